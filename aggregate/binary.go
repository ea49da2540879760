package aggregate

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// StateCodec encodes states in a form only Rewind reads back: the
// processor's store and caches, the read model's snapshots. Records on
// Kafka stay JSON, because other teams read them.
//
// Append appends the encoding of s to dst and returns the extended slice.
// Decode must accept exactly what Append wrote and must not keep data
// (the caller may reuse it); it returns an error for anything else.
type StateCodec[S any] struct {
	Append func(dst []byte, s S) []byte
	Decode func(data []byte) (S, error)
}

// SetStateCodec replaces the default state codec, which is JSON. Call it
// while building the definition, before any use.
func (d *Definition[S]) SetStateCodec(c StateCodec[S]) { d.codec = &c }

// ErrShortState reports a binary state that ends early or is malformed.
var ErrShortState = errors.New("aggregate: malformed binary state")

// Writer appends primitive values in a compact binary form: the building
// blocks of a [StateCodec]. The zero value is ready; B is the output.
type Writer struct{ B []byte }

// Uint appends an unsigned varint.
func (w *Writer) Uint(u uint64) { w.B = binary.AppendUvarint(w.B, u) }

// Int appends a signed varint.
func (w *Writer) Int(i int64) { w.B = binary.AppendVarint(w.B, i) }

// Bool appends one byte, 0 or 1.
func (w *Writer) Bool(b bool) {
	if b {
		w.B = append(w.B, 1)
	} else {
		w.B = append(w.B, 0)
	}
}

// String appends a length-prefixed string.
func (w *Writer) String(s string) {
	w.Uint(uint64(len(s)))
	w.B = append(w.B, s...)
}

// Strings appends a counted list of strings.
func (w *Writer) Strings(ss []string) {
	w.Uint(uint64(len(ss)))
	for _, s := range ss {
		w.String(s)
	}
}

// Time appends an instant with its zone offset, so that a decoded time
// prints as the original did (JSON shows the offset). The zero time
// takes one byte. Zone names are not kept: the offset is what an
// RFC 3339 time carries.
func (w *Writer) Time(t time.Time) {
	if t.IsZero() {
		w.B = append(w.B, 0)
		return
	}
	_, off := t.Zone()
	w.B = append(w.B, 1)
	w.Int(t.Unix())
	w.Uint(uint64(t.Nanosecond()))
	w.Int(int64(off))
}

// Reader reads what a [Writer] wrote. After the first error every read
// returns a zero value and Err reports it, so a decoder can read a whole
// record and check once.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Rest is what has not been read.
func (r *Reader) Rest() []byte { return r.b }

func (r *Reader) fail() { r.err, r.b = ErrShortState, nil }

// Uint reads an unsigned varint.
func (r *Reader) Uint() uint64 {
	u, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return u
}

// Int reads a signed varint.
func (r *Reader) Int() int64 {
	i, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return i
}

// Len reads a count of items that each take at least one byte, refusing
// counts the rest of the input cannot hold (a corrupt count must not
// allocate gigabytes).
func (r *Reader) Len() int {
	n := r.Uint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Bool reads a byte written by [Writer.Bool].
func (r *Reader) Bool() bool { return r.Byte() == 1 }

// String reads a length-prefixed string.
func (r *Reader) String() string {
	n := r.Len()
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// Strings reads a counted list of strings; an empty list is nil.
func (r *Reader) Strings() []string {
	n := r.Len()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.String()
	}
	return out
}

// Time reads an instant written by [Writer.Time]. An offset of zero
// decodes as UTC, as encoding/json decodes a "Z" time.
func (r *Reader) Time() time.Time {
	if r.Byte() == 0 {
		return time.Time{}
	}
	sec, nsec, off := r.Int(), r.Uint(), r.Int()
	if nsec >= 1e9 || off < math.MinInt32 || off > math.MaxInt32 {
		r.fail()
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if off != 0 {
		t = t.In(time.FixedZone("", int(off)))
	}
	return t
}
