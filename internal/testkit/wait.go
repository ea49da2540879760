package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/topics"
)

// WaitResults blocks until schedule-results holds n committed results, or
// fails the test after timeout. check, when not nil, is called while
// waiting; it may fail the test early (a processor that died).
func WaitResults(t testing.TB, brokers string, n int, timeout time.Duration, check func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics.Results),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := 0
	for got < n {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatalf("waited %s for %d results, have %d", timeout, n, got)
		}
		got += fs.NumRecords()
		if check != nil {
			check()
		}
	}
}
