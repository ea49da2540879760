package processor

import (
	"strconv"
	"testing"

	"github.com/rewind/rewind/store"
)

// TestStreamFind: a stream looked up many times in a batch, once its ids
// are indexed (stored and added alike), finds what a scan finds: the
// latest entry of an id, the batch's own before the stored ones, and
// nothing for an id it never saw.
func TestStreamFind(t *testing.T) {
	var stored store.Commands
	for i := range 40 {
		stored = stored.Append(store.Command{ID: "c" + strconv.Itoa(i%30), At: int64(i), Outcome: []byte("stored")})
	}
	st := &stream{cmds: stored}
	want := func(id string) (int64, string, bool) {
		for i := len(st.added) - 1; i >= 0; i-- {
			if st.added[i].ID == id {
				return st.added[i].At, string(st.added[i].Outcome), true
			}
		}
		c, ok := stored.Find(id)
		return c.At, string(c.Outcome), ok
	}
	check := func(round int) {
		t.Helper()
		for i := range 60 {
			id := "c" + strconv.Itoa(i)
			got, ok := st.find(id)
			at, outcome, wantOK := want(id)
			if ok != wantOK || got.At != at || string(got.Outcome) != outcome {
				t.Fatalf("round %d: find(%q) = %d %q %v; want %d %q %v", round, id, got.At, got.Outcome, ok, at, outcome, wantOK)
			}
		}
	}
	for round := range 40 {
		check(round)
		// Some ids come again, as retries and reuses after their window do.
		st.remember(store.Command{ID: "c" + strconv.Itoa(25+round), At: int64(100 + round), Outcome: []byte("added")})
	}
	if st.index == nil || st.addedAt == nil {
		t.Fatalf("a stream looked up %d times with %d added is not indexed", st.lookups, len(st.added))
	}
}
