package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/internal/dev/candidate"
)

// Version1Events reads the schedule package's fixture: event records as
// the code of logic version 1 wrote them to schedule-events (tenant
// clinic-1), placed for n partitions. tenant, when not empty, replaces
// clinic-1 in keys and headers.
func Version1Events(t testing.TB, tenant string, n int32) []*kgo.Record {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := candidate.Version1Events(root, tenant, n)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// CommitEvents writes event records in one transaction, as the processor
// does (read_committed readers see nothing else).
func CommitEvents(t testing.TB, brokers string, recs []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := candidate.CommitEvents(ctx, brokers, recs); err != nil {
		t.Fatal(err)
	}
}
