package state_test

import (
	"testing"
	"time"

	"github.com/rewind/rewind/state"
)

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old, recent := time.Unix(100, 0), time.Unix(200, 0)
	b := s.NewBatch()
	must(t, b.SetStream(1, "t/a", 7, []byte("state-a")))
	must(t, b.SetStream(2, "t/b", 3, []byte("state-b")))
	must(t, b.SetDedup(1, "t/a", "c1", old, []byte("first")))
	must(t, b.SetDedup(1, "t/a", "c2", recent, []byte("second")))
	must(t, b.SetCheckpoint(1, state.Checkpoint{Events: 10, Results: 20, Logic: 1}))
	must(t, b.Commit())
	must(t, b.Close())

	// Everything survives a reopen.
	must(t, s.Close())
	if s, err = state.Open(dir, state.Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, data, found, err := s.Stream(1, "t/a"); err != nil || !found || v != 7 || string(data) != "state-a" {
		t.Fatalf("stream: %d %q %v %v", v, data, found, err)
	}
	if out, at, found, err := s.Dedup(1, "t/a", "c1"); err != nil || !found || string(out) != "first" || !at.Equal(old) {
		t.Fatalf("dedup: %q %v %v %v", out, at, found, err)
	}
	if cp, ok, err := s.Checkpoint(1); err != nil || !ok || cp != (state.Checkpoint{Events: 10, Results: 20, Logic: 1}) {
		t.Fatalf("checkpoint: %+v %v %v", cp, ok, err)
	}

	if n, err := s.ExpireDedup(1, time.Unix(150, 0)); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if _, _, found, _ := s.Dedup(1, "t/a", "c1"); found {
		t.Fatal("expired entry still there")
	}
	if _, _, found, _ := s.Dedup(1, "t/a", "c2"); !found {
		t.Fatal("recent entry expired")
	}

	// Wiping partition 1 leaves partition 2 alone.
	must(t, s.WipePartition(1))
	if _, _, found, _ := s.Stream(1, "t/a"); found {
		t.Fatal("wiped stream still there")
	}
	if _, ok, _ := s.Checkpoint(1); ok {
		t.Fatal("wiped checkpoint still there")
	}
	if _, _, found, _ := s.Stream(2, "t/b"); !found {
		t.Fatal("wipe of partition 1 removed partition 2")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
