package testkit_test

import (
	"testing"
	"time"

	"github.com/rewind/rewind/internal/testing/testkit"
)

// TestEventually: a condition that comes true is seen without waiting for
// the timeout, and one that never does is reported false once it passes.
func TestEventually(t *testing.T) {
	start := time.Now()
	calls := 0
	if !testkit.Eventually(10*time.Second, func() bool { calls++; return calls == 5 }) {
		t.Fatal("a condition true at the fifth poll was not seen")
	}
	// 1+2+4+8 ms of back-off before the fifth poll: far under the timeout.
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s for a condition true at the fifth poll", took)
	}

	start = time.Now()
	if testkit.Eventually(100*time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition never true was reported true")
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("gave up after %s, before the timeout", took)
	}
}
