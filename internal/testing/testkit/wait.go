package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/topics"
)

// Eventually polls cond until it holds and reports whether it did within
// timeout. It is the one way tests wait on a condition instead of sleeping
// for a guess. It returns a bool, not a failure, so that each caller keeps
// its own message and can put in it what it saw last. The poll starts at a
// millisecond, so that a quick condition costs no wait, and backs off to
// 50 ms, so that an expensive one (a scrape, a read of a topic) does not
// load the machine it is waiting on. cond runs on the caller's goroutine
// and may fail the test itself.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
	}
	return true
}

// Await fails the test unless cond holds within timeout; what names the
// condition in the failure.
func Await(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Eventually(timeout, cond) {
		t.Fatalf("%s: not within %v", what, timeout)
	}
}

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
