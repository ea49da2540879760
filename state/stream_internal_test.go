package state

import (
	"bytes"
	"testing"
)

// FuzzFind: on any bytes Find neither panics nor loops, and on a valid
// list it finds what a full walk of the entries finds.
func FuzzFind(f *testing.F) {
	f.Add(Commands{}.Append(Command{ID: "a", At: 1, Fingerprint: 2, Outcome: []byte("x")}, Command{ID: "b", At: -1 << 62}).raw, "a")
	f.Add([]byte{1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "a")
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		c := Commands{raw: raw}
		got, found := c.Find(id)
		var want Command
		var wantFound bool
		walked := 0
		for e := range c.entries() {
			walked += len(e.raw)
			if string(e.id) == id {
				want, wantFound = Command{ID: id, At: e.at, Fingerprint: e.fp, Outcome: e.outcome}, true
			}
		}
		if walked != len(raw) {
			return // malformed: DecodeStream refuses it before any Find
		}
		if found != wantFound || got.ID != want.ID || got.At != want.At || got.Fingerprint != want.Fingerprint || !bytes.Equal(got.Outcome, want.Outcome) {
			t.Fatalf("Find(%q) = %+v %v; the walk finds %+v %v", id, got, found, want, wantFound)
		}
	})
}
