package ingest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/topics"
)

// TestClientSend: the API client reads each kind of answer of the real
// ingest as what it means. A rejection (a problem document with the
// result's members) is an outcome, also when it answers a retry; bad
// input is an *apiclient.Error with its problem code.
func TestClientSend(t *testing.T) {
	e := setup(t)
	c := &apiclient.Client{Ingest: e.url, Token: tokenA}
	ctx := context.Background()
	reserve := apiclient.Command{Schedule: "cl-1", Type: "Reserve", IdempotencyKey: "cl-r", Wait: 10 * time.Second,
		Data: []byte(`{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`)}
	res, err := c.Send(ctx, reserve)
	if err != nil || res.Status != topics.StatusAccepted || res.Version != 1 || len(res.Events) != 1 || res.ScheduleID != "cl-1" {
		t.Fatalf("accepted: %+v, %v", res, err)
	}
	if res, err := c.Send(ctx, reserve); err != nil || res.Status != topics.StatusDuplicate || res.FirstStatus != topics.StatusAccepted {
		t.Fatalf("retry of an accepted command: %+v, %v", res, err)
	}

	again := reserve
	again.IdempotencyKey = "cl-r2"
	for _, want := range []string{topics.StatusRejected, topics.StatusDuplicate} {
		res, err := c.Send(ctx, again)
		if err != nil || res.Status != want || res.Code != schedule.CodeAlreadyReserved || res.Version != 1 || res.CommandID != "cl-r2" || res.Message == "" {
			t.Fatalf("rejection (%s): %+v, %v", want, res, err)
		}
		if want == topics.StatusDuplicate && res.FirstStatus != topics.StatusRejected {
			t.Fatalf("retry of a rejection: %+v", res)
		}
	}

	stale := uint64(7)
	conflict := apiclient.Command{Schedule: "cl-1", Type: "CheckIn", Data: []byte(`{"channel":"desk"}`), ExpectedVersion: &stale, Wait: 10 * time.Second}
	if res, err := c.Send(ctx, conflict); err != nil || res.Status != topics.StatusRejected || res.Code != aggregate.CodeVersionConflict {
		t.Fatalf("If-Match: %+v, %v", res, err)
	}

	_, err = c.Send(ctx, apiclient.Command{Schedule: "cl-1", Type: "Nope"})
	if e, ok := errors.AsType[*apiclient.Error](err); !ok || e.StatusCode != http.StatusNotFound || apiclient.Code(err) != aggregate.CodeUnknownType {
		t.Fatalf("unknown type: %v", err)
	}
	_, err = c.As("wrong").Send(ctx, reserve)
	if e, ok := errors.AsType[*apiclient.Error](err); !ok || e.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %v", err)
	}
}
