package query_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
	"github.com/rewind/rewind/topics"
)

// TestErasure: a tombstone on one event key removes that event from the
// audit log and from every state after it.
func TestErasure(t *testing.T) {
	w := newWorld(t)
	var recs []*kgo.Record
	recs = append(recs, w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0)...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "CheckIn", `{"channel":"desk"}`, t0.Add(time.Minute))...)
	for i := range 20 {
		recs = append(recs, w.exec("clinic-a", "visit-1", "TakePhotos", fmt.Sprintf(`{"kind":"before","count":%d}`, i+1), t0.Add(time.Duration(2+i)*time.Minute))...)
	}
	w.commit(recs)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())
	p := topics.PartitionFor(topics.StreamKey("clinic-a", "visit-1"), partitions)
	erase := func(v uint64) {
		w.commit([]*kgo.Record{{Topic: topics.Events, Partition: p, Key: []byte(topics.EventKey("clinic-a", "visit-1", v))}})
		evs := w.streams["clinic-a/visit-1"]
		w.streams["clinic-a/visit-1"] = slices.DeleteFunc(evs, func(e aggregate.Envelope) bool { return e.Version == v })
	}
	erase(5)
	erase(22) // the last one
	// The audit checks below fail if the erasures are not folded.
	testkit.Eventually(10*time.Second, func() bool { return testkit.Metric(t, s.reg, "rewind_query_erased_events_total") >= 2 })
	evs := w.streams["clinic-a/visit-1"]
	var audit query.Page[query.AuditEvent]
	s.get(tokenA, "/v1/schedules/visit-1/events", &audit)
	if len(audit.Items) != 20 || slices.ContainsFunc(audit.Items, func(a query.AuditEvent) bool { return a.Version == 5 || a.Version == 22 }) {
		t.Fatalf("audit log after erasing 5 and 22: %d events", len(audit.Items))
	}
	for v := uint64(1); v <= 21; v++ {
		var got query.StateResponse
		s.get(tokenA, fmt.Sprintf("/v1/schedules/visit-1?version=%d", v), &got)
		want, wantV := schedule.Definition.RehydrateVersion(evs, v)
		if got.Version != wantV || !sameJSON(t, got.State, want) {
			t.Fatalf("v%d after erasure: version %d %s, want %d %s", v, got.Version, got.State, wantV, jsonOf(t, want))
		}
	}
	var cur query.StateResponse
	s.get(tokenA, "/v1/schedules/visit-1", &cur)
	if cur.Version != 21 {
		t.Fatalf("current version after erasing the last event: %d, want 21", cur.Version)
	}
	// Erasures change states without a new version: the ETag says so.
	if tag := etag(t, s, "/v1/schedules/visit-1?version=10"); tag != `"10.2"` {
		t.Fatalf("ETag of version 10 after two erasures: %s, want \"10.2\"", tag)
	}

	// A stream erased to nothing, then written again in the same poll:
	// the new event folds onto nothing, not onto the erased state.
	w.commit(w.exec("clinic-a", "visit-2", "Reserve", reserve("v-2", t0, time.Hour), t0))
	s.waitFolded(w.total() - 2 + 1)
	recs = []*kgo.Record{{Topic: topics.Events, Partition: topics.PartitionFor(topics.StreamKey("clinic-a", "visit-2"), partitions),
		Key: []byte(topics.EventKey("clinic-a", "visit-2", 1))}}
	recs = append(recs, w.exec("clinic-a", "visit-2", "CheckIn", `{"channel":"desk"}`, t0.Add(time.Minute))...)
	w.commit(recs)
	w.streams["clinic-a/visit-2"] = w.streams["clinic-a/visit-2"][1:]
	var v2 query.StateResponse
	testkit.Eventually(10*time.Second, func() bool {
		s.get(tokenA, "/v1/schedules/visit-2", &v2)
		return v2.Version == 2
	})
	want, _ := schedule.Definition.Rehydrate(w.streams["clinic-a/visit-2"])
	if v2.Version != 2 || !sameJSON(t, v2.State, want) {
		t.Fatalf("after erasing v1 and adding v2 in one poll: version %d %s, want 2 %s", v2.Version, v2.State, jsonOf(t, want))
	}
	var day query.Page[query.Summary]
	s.get(tokenA, "/v1/schedules?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z", &day)
	for _, x := range day.Items {
		if x.ScheduleID == "visit-2" && x.VisitorID == "v-2" {
			t.Fatalf("the erased reservation of visit-2 is still in the range index: %+v", x)
		}
	}
}

func etag(t *testing.T, s *service, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("ETag")
}
