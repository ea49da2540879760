package store

import (
	"bytes"
	"testing"
)

// FuzzFind: on any bytes Find neither panics nor loops, and on a valid
// list it and an Index find what a full walk of the entries finds.
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
		got, found = c.Index().Find(id)
		if found != wantFound || got.ID != want.ID || got.At != want.At || got.Fingerprint != want.Fingerprint || !bytes.Equal(got.Outcome, want.Outcome) {
			t.Fatalf("Index().Find(%q) = %+v %v; the walk finds %+v %v", id, got, found, want, wantFound)
		}
	})
}

// TestEncodeStreamAdded: a record encoded with added commands is the
// record of the list with them appended, and entryLen sizes an entry to
// the byte (times of every varint length, negative ones too).
func TestEncodeStreamAdded(t *testing.T) {
	base := Commands{}.Append(Command{ID: "a", At: 1, Outcome: []byte("x")})
	var added []Command
	for i, at := range []int64{0, -1, 63, 64, -65, 1 << 20, -1 << 40, 1<<63 - 1, -1 << 63} {
		added = append(added, Command{ID: string(bytes.Repeat([]byte("i"), i*20)), At: at, Fingerprint: uint64(i), Outcome: bytes.Repeat([]byte("o"), i*17)})
	}
	for _, c := range added {
		if got, want := entryLen(c), len(appendEntry(nil, c)); got != want {
			t.Fatalf("entryLen(At %d) = %d, want %d", c.At, got, want)
		}
	}
	s := Stream{Logic: 3, Version: 9, State: []byte("state"), Commands: base}
	want := s
	want.Commands = base.Append(added...)
	if got := EncodeStream(s, added...); !bytes.Equal(got, EncodeStream(want)) {
		t.Fatalf("EncodeStream with added differs from EncodeStream of the appended list")
	}
}
