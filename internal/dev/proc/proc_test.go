package proc

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sh(t *testing.T, script string) (*Process, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "child.log")
	p, err := Start(Spec{Path: "/bin/sh", Args: []string{"-c", script}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p, log
}

// TestStopEndsWithSIGTERM: a child that exits on SIGTERM is stopped
// cleanly; one that ignores it is killed after the grace period, and Stop
// says so.
func TestStopEndsWithSIGTERM(t *testing.T) {
	polite, _ := sh(t, `trap 'exit 0' TERM; echo up; while :; do sleep 0.05; done`)
	waitLog(t, polite)
	if err := polite.Stop(10 * time.Second); err != nil {
		t.Fatalf("a child that exits on SIGTERM: %v", err)
	}
	stubborn, _ := sh(t, `trap '' TERM; echo up; while :; do sleep 0.05; done`)
	waitLog(t, stubborn)
	start := time.Now()
	err := stubborn.Stop(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("a child that ignores SIGTERM: %v", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("killed after %v, before its grace period", took)
	}
	if err := stubborn.Stop(time.Second); err != nil {
		t.Fatalf("stopping a child that is gone: %v", err)
	}
}

// TestWaitForReportsTheLog: a child that dies before it is ready is
// reported with the end of its log, at once rather than at the timeout.
func TestWaitForReportsTheLog(t *testing.T) {
	p, _ := sh(t, `echo "config: bad flag -x" >&2; exit 3`)
	start := time.Now()
	err := p.WaitFor(context.Background(), time.Minute, func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "bad flag -x") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("WaitFor waited for its timeout after the child exited")
	}
	q, _ := sh(t, `sleep 30`)
	err = q.WaitFor(context.Background(), 50*time.Millisecond, func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "not ready after") {
		t.Fatalf("a child never ready: %v", err)
	}
}

// waitLog waits until the child has written "up": its trap is set.
func waitLog(t *testing.T, p *Process) {
	t.Helper()
	if err := p.WaitFor(context.Background(), 10*time.Second, func() bool {
		return strings.Contains(p.logTail(), "up")
	}); err != nil {
		t.Fatal(err)
	}
}
