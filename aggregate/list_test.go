package aggregate_test

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/rewind/rewind/aggregate"
)

// TestListIsPersistent applies random appends and last-element updates,
// keeps every version, and checks at the end that each version still
// holds exactly what a plain slice model held at that point: no version
// was changed by a later one, even when two branch from the same version.
func TestListIsPersistent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var versions []aggregate.List[int]
	var models [][]int
	l, model := aggregate.List[int]{}, []int(nil)
	for i := range 3000 {
		switch {
		case model != nil && r.IntN(4) == 0:
			l, model = l.SetLast(-i), append(slices.Clone(model[:len(model)-1]), -i)
		case len(versions) > 0 && r.IntN(50) == 0:
			// Branch: go on from an older version.
			k := r.IntN(len(versions))
			l, model = versions[k], slices.Clone(models[k])
		default:
			l, model = l.Append(i), append(slices.Clone(model), i)
		}
		versions, models = append(versions, l), append(models, model)
	}
	for k, v := range versions {
		if got := v.Slice(); !slices.Equal(got, models[k]) || v.Len() != len(models[k]) {
			t.Fatalf("version %d holds %v, want %v", k, got, models[k])
		}
		for i, x := range v.All() {
			if x != models[k][i] || v.At(i) != x {
				t.Fatalf("version %d element %d: %d, want %d", k, i, x, models[k][i])
			}
		}
		if !reflect.DeepEqual(v, aggregate.ListOf(models[k]...)) {
			t.Fatalf("version %d is not DeepEqual to the list of the same elements", k)
		}
	}
}

func TestListCodecs(t *testing.T) {
	type doc struct {
		L aggregate.List[string] `json:"l,omitzero"`
	}
	for _, n := range []int{0, 1, 31, 32, 33, 100} {
		var d doc
		for i := range n {
			d.L = d.L.Append(string(rune('a' + i%26)))
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(struct {
			L []string `json:"l,omitempty"`
		}{d.L.Slice()})
		if string(b) != string(want) {
			t.Fatalf("n=%d: JSON %s, want %s (a plain array)", n, b, want)
		}
		var back doc
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, d) {
			t.Fatalf("n=%d: JSON round trip %v %v", n, back, err)
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(d); err != nil {
			t.Fatal(err)
		}
		var g doc
		if err := gob.NewDecoder(&buf).Decode(&g); err != nil || !reflect.DeepEqual(g, d) {
			t.Fatalf("n=%d: gob round trip %v %v", n, g, err)
		}
	}
}

// BenchmarkListFold is the fold of a growing list, the cost a long visit
// pays per event: a List against a slice copied by every event.
func BenchmarkListFold(b *testing.B) {
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			var l aggregate.List[[48]byte]
			for range 10000 {
				l = l.Append([48]byte{})
			}
		}
	})
	b.Run("copied-slice", func(b *testing.B) {
		for b.Loop() {
			var s [][48]byte
			for range 10000 {
				s = append(slices.Clip(s), [48]byte{})
			}
		}
	})
}
