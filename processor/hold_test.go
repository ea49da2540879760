package processor

import (
	"context"
	"testing"
	"time"
)

// TestHoldAfterRebalance: a member's offset commits wait while its
// assignment's callback runs and offsetHold after it returns, so that no
// commit of its lands on a new owner's offset fetch (loop.go); a batch
// whose context ends stops waiting.
func TestHoldAfterRebalance(t *testing.T) {
	p := &Processor{}
	start := time.Now()
	p.holdAfterRebalance(context.Background())
	if d := time.Since(start); d > offsetHold/2 {
		t.Fatalf("with no assignment yet the hold took %v", d)
	}

	// The callback runs: a commit waits until it returns, then offsetHold.
	p.holdUntil.Store(time.Now().Add(time.Hour).UnixNano())
	returned := make(chan time.Time, 1)
	go func() {
		time.Sleep(50 * time.Millisecond) // the callback's work
		now := time.Now()
		p.holdUntil.Store(now.Add(offsetHold).UnixNano())
		returned <- now
	}()
	p.holdAfterRebalance(context.Background())
	done := time.Now()
	if at := <-returned; done.Sub(at) < offsetHold {
		t.Fatalf("a commit went on %v after the callback returned, want at least %v", done.Sub(at), offsetHold)
	}

	p.holdUntil.Store(time.Now().Add(time.Hour).UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	p.holdAfterRebalance(ctx)
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("a hold outlived its batch's context by %v", d)
	}
}
