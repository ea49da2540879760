package schedule_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/rewind/rewind/aggregate/schedule"
)

// TestBinaryStateRoundTrip holds the binary codec to JSON's meaning: a
// decoded state encodes to the same JSON as the original, zone offsets
// and fractions of seconds included.
func TestBinaryStateRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 3000 {
		s := randomState(r)
		data, err := schedule.Kind.AppendState(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := schedule.Kind.DecodeState(data)
		if err != nil {
			t.Fatalf("state %d: %v", i, err)
		}
		want, _ := json.Marshal(s)
		have, _ := json.Marshal(got)
		if string(have) != string(want) {
			t.Fatalf("state %d:\n got %s\nwant %s", i, have, want)
		}
		// Every strict prefix is refused, never misread or a panic.
		if _, err := schedule.Kind.DecodeState(data[:r.IntN(len(data))]); err == nil {
			t.Fatalf("state %d: a truncated encoding decoded", i)
		}
	}
}

// FuzzDecodeState feeds corrupt stored states: an error, never a panic.
func FuzzDecodeState(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		data, _ := schedule.Kind.AppendState(nil, randomState(r))
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := schedule.Kind.DecodeState(data)
		if err != nil {
			return
		}
		again, err := schedule.Kind.AppendState(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := schedule.Kind.DecodeState(again); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
	})
}

func BenchmarkStateBinary(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	s := randomState(r)
	var buf []byte
	for b.Loop() {
		buf, _ = schedule.Kind.AppendState(buf[:0], s)
		if _, err := schedule.Kind.DecodeState(buf); err != nil {
			b.Fatal(err)
		}
	}
}
