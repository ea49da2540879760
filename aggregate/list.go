package aggregate

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"iter"
	"slices"
)

// listChunk is how many elements a List keeps per chunk: an append copies
// at most this many, whatever the length.
const listChunk = 32

// List is an append-only list of values that shares its elements between
// versions, for states that grow by one element per event (photo
// sessions, consultations). Handlers must not modify what an earlier
// state shares, so a plain slice would be copied whole by every event: a
// fold over a stream of n such events costs O(n²). A List copies at most
// one chunk of 32 elements, and every 32 appends a spine of one slice
// header per chunk, so the same fold is close to linear.
//
// The zero value is an empty list. A List is a value: Append and SetLast
// return a new List and never modify the receiver or anything it shares.
// Two lists with the same elements are equal under reflect.DeepEqual,
// because their chunking depends only on their length. It encodes as a
// JSON array (and as a slice in gob).
type List[T any] struct {
	chunks [][]T // full chunks, never written once full
	tail   []T   // the last, partial chunk; nil when empty
}

// ListOf returns a list of xs (copied).
func ListOf[T any](xs ...T) List[T] { return listOwning(slices.Clone(xs)) }

// listOwning returns a list of xs, sharing xs's memory: the caller must
// not use xs afterwards. The chunks are capped views of it, so an Append
// never writes into xs.
func listOwning[T any](xs []T) List[T] {
	var l List[T]
	full := len(xs) / listChunk * listChunk
	if full > 0 {
		l.chunks = make([][]T, 0, full/listChunk)
		for i := 0; i < full; i += listChunk {
			l.chunks = append(l.chunks, xs[i:i+listChunk:i+listChunk])
		}
	}
	if full < len(xs) {
		l.tail = xs[full:len(xs):len(xs)]
	}
	return l
}

// Len is the number of elements.
func (l List[T]) Len() int { return len(l.chunks)*listChunk + len(l.tail) }

// IsZero reports whether the list is empty (for the omitzero JSON option).
func (l List[T]) IsZero() bool { return l.Len() == 0 }

// At returns element i; it panics when i is out of range, like a slice.
func (l List[T]) At(i int) T {
	if full := len(l.chunks) * listChunk; i >= full {
		return l.tail[i-full]
	}
	return l.chunks[i/listChunk][i%listChunk]
}

// Last returns the last element, if any.
func (l List[T]) Last() (T, bool) {
	if l.Len() == 0 {
		var zero T
		return zero, false
	}
	return l.At(l.Len() - 1), true
}

// Append returns the list with x added at the end.
func (l List[T]) Append(x T) List[T] {
	tail := make([]T, len(l.tail)+1, listChunk)
	copy(tail, l.tail)
	tail[len(l.tail)] = x
	if len(tail) == listChunk {
		return List[T]{chunks: append(slices.Clip(l.chunks), tail)}
	}
	return List[T]{chunks: l.chunks, tail: tail}
}

// SetLast returns the list with its last element replaced by x. It panics
// on an empty list.
func (l List[T]) SetLast(x T) List[T] {
	if len(l.tail) > 0 {
		tail := slices.Clone(l.tail)
		tail[len(tail)-1] = x
		return List[T]{chunks: l.chunks, tail: tail}
	}
	chunks := slices.Clone(l.chunks)
	last := slices.Clone(chunks[len(chunks)-1])
	last[listChunk-1] = x
	chunks[len(chunks)-1] = last
	return List[T]{chunks: chunks}
}

// All iterates over the elements in order.
func (l List[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		i := 0
		for _, c := range append(slices.Clip(l.chunks), l.tail) {
			for _, x := range c {
				if !yield(i, x) {
					return
				}
				i++
			}
		}
	}
}

// Slice returns the elements as a new slice.
func (l List[T]) Slice() []T {
	out := make([]T, 0, l.Len())
	for _, c := range l.chunks {
		out = append(out, c...)
	}
	return append(out, l.tail...)
}

// MarshalJSON encodes the list as a JSON array.
func (l List[T]) MarshalJSON() ([]byte, error) { return json.Marshal(l.Slice()) }

// UnmarshalJSON decodes a JSON array (or null, an empty list).
func (l *List[T]) UnmarshalJSON(b []byte) error {
	var xs []T
	if err := json.Unmarshal(b, &xs); err != nil {
		return err
	}
	*l = listOwning(xs)
	return nil
}

// GobEncode encodes the list as a slice.
func (l List[T]) GobEncode() ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(l.Slice())
	return buf.Bytes(), err
}

// GobDecode decodes what GobEncode wrote.
func (l *List[T]) GobDecode(b []byte) error {
	var xs []T
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&xs); err != nil {
		return err
	}
	*l = listOwning(xs)
	return nil
}
