package store

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"iter"
	"math/bits"
)

// Stream is one stream's record: the logic version that computed it, its
// version, its encoded state and the command ids it remembers with their
// first outcomes. The same bytes are the stream's record on the state
// topic, so a restore copies them without decoding. Its byte slices may
// share the memory they were decoded from; treat them as read-only.
type Stream struct {
	// Logic is the aggregate's logic version that computed State.
	Logic   uint64
	Version uint64
	// State is the state as the aggregate's codec encoded it.
	State []byte
	// Commands are the command ids the stream remembers, oldest first.
	Commands Commands
}

// Command is a remembered command id.
type Command struct {
	ID string
	// At is the command's time in Unix nanoseconds: the dedup window is
	// measured from it.
	At int64
	// Fingerprint identifies what the command asked for (its type, data
	// and expected version), so a reused id with another request is told
	// apart from a retry. Zero means unknown.
	Fingerprint uint64
	// Outcome is the command's first outcome, encoded by the caller:
	// what a duplicate of the id is answered with.
	Outcome []byte
}

// Commands is an encoded list of remembered commands: per command its id
// (length-prefixed), its time (varint), its fingerprint (8 bytes) and its
// outcome (length-prefixed). It is
// kept encoded because most lookups miss and a miss needs no allocation.
// The zero value is empty.
type Commands struct{ raw []byte }

// Len is the size of the encoding in bytes.
func (c Commands) Len() int { return len(c.raw) }

// Find returns the remembered command with the id; the latest, should an
// id have been used again after its window ended.
//
// Every command of a stream looks its id up, and a hot stream remembers
// hundreds, so the scan compares ids and skips the rest of each entry
// undecoded; only the match is decoded.
func (c Commands) Find(id string) (cmd Command, found bool) {
	match := -1
	for off := 0; off < len(c.raw); {
		eid, n := skipEntry(c.raw[off:])
		if n == 0 {
			break
		}
		// Ids of one stream often share a prefix and a length: the last
		// byte tells most apart without a call to compare them.
		if len(eid) == len(id) && (len(id) == 0 || eid[len(eid)-1] == id[len(id)-1]) && string(eid) == id {
			match = off
		}
		off += n
	}
	if match < 0 {
		return Command{}, false
	}
	e, n := nextEntry(c.raw[match:])
	if n == 0 {
		return Command{}, false // skipEntry took what binary.Varint refuses
	}
	return Command{ID: id, At: e.at, Fingerprint: e.fp, Outcome: e.outcome}, true
}

// Index is a table of a list's ids, for a stream looked up many times
// in a row: building it costs one walk of the list, and each lookup after
// costs a hash, where [Commands.Find] walks the whole list every time. A
// hot stream remembers hundreds of ids and gets tens of commands in a
// batch.
type Index struct {
	c Commands
	// at holds, per id's hash, the offset of the id's latest entry. Two
	// ids of one hash (a 64-bit hash with a random seed: in practice
	// never) leave the later's offset; a lookup that finds another id
	// there walks the list.
	at map[uint64]int32
}

var indexSeed = maphash.MakeSeed()

// Index returns the table of c's ids.
func (c Commands) Index() *Index {
	x := &Index{c: c, at: make(map[uint64]int32, len(c.raw)/48)}
	for off := 0; off < len(c.raw); {
		eid, n := skipEntry(c.raw[off:])
		if n == 0 {
			break
		}
		x.at[maphash.Bytes(indexSeed, eid)] = int32(off)
		off += n
	}
	return x
}

// Find is [Commands.Find] through the table.
func (x *Index) Find(id string) (Command, bool) {
	off, ok := x.at[maphash.String(indexSeed, id)]
	if !ok {
		return Command{}, false
	}
	e, n := nextEntry(x.c.raw[off:])
	if n == 0 || string(e.id) != id {
		return x.c.Find(id)
	}
	return Command{ID: id, At: e.at, Fingerprint: e.fp, Outcome: e.outcome}, true
}

// skipEntry returns the id of the entry at the start of b and the entry's
// length, decoding only the two lengths; n is 0 when malformed. Lengths
// under 128 take one byte, the common case, read without a loop.
func skipEntry(b []byte) (id []byte, n int) {
	l, k := shortUvarint(b)
	if k <= 0 || l > uint64(len(b)-k) {
		return nil, 0
	}
	id = b[k : k+int(l)]
	n = k + int(l)
	// The time is a varint: its last byte is the first below 0x80. Eight
	// bytes are tested at once; a time in nanoseconds takes nine.
	i := n
	if i+8 <= len(b) {
		if m := ^binary.LittleEndian.Uint64(b[i:]) & 0x8080808080808080; m != 0 {
			i += bits.TrailingZeros64(m) / 8
		} else {
			i += 8
		}
	}
	for ; i < len(b) && b[i] >= 0x80; i++ {
		if i-n == binary.MaxVarintLen64 {
			return nil, 0
		}
	}
	if i >= len(b) || i-n >= binary.MaxVarintLen64 {
		return nil, 0
	}
	n = i + 1 + 8 // and the fingerprint
	if n > len(b) {
		return nil, 0
	}
	l, k = shortUvarint(b[n:])
	if k <= 0 || l > uint64(len(b)-n-k) {
		return nil, 0
	}
	return id, n + k + int(l)
}

// entryAt returns the time of the entry at the start of b and the
// entry's length, decoding nothing else; n is 0 when malformed.
func entryAt(b []byte) (at int64, n int) {
	l, k := shortUvarint(b)
	if k <= 0 || l > uint64(len(b)-k) {
		return 0, 0
	}
	n = k + int(l)
	at, k = binary.Varint(b[n:])
	if k <= 0 || len(b)-n-k < 8 {
		return 0, 0
	}
	n += k + 8 // and the fingerprint
	l, k = shortUvarint(b[n:])
	if k <= 0 || l > uint64(len(b)-n-k) {
		return 0, 0
	}
	return at, n + k + int(l)
}

func shortUvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// All yields the remembered commands, oldest first.
func (c Commands) All() iter.Seq[Command] {
	return func(yield func(Command) bool) {
		for e := range c.entries() {
			if !yield(Command{ID: string(e.id), At: e.at, Fingerprint: e.fp, Outcome: e.outcome}) {
				return
			}
		}
	}
}

// Keep returns the list without the commands older than cutoff (Unix
// nanoseconds).
func (c Commands) Keep(cutoff int64) Commands {
	// Nothing is copied until something is dropped: usually nothing is,
	// and then the list shares the receiver's memory.
	var out Commands
	off, dropped := 0, false
	for off < len(c.raw) {
		at, n := entryAt(c.raw[off:])
		if n == 0 {
			break // decodeStream has checked the list: not reached
		}
		switch {
		case at < cutoff && !dropped:
			out.raw, dropped = append(out.raw, c.raw[:off]...), true
		case at >= cutoff && dropped:
			out.raw = append(out.raw, c.raw[off:off+n]...)
		}
		off += n
	}
	if !dropped {
		return c
	}
	return out
}

// Append returns the list with cmds added at the end. It never writes
// into the receiver's memory.
func (c Commands) Append(cmds ...Command) Commands {
	if len(cmds) == 0 {
		return c
	}
	n := len(c.raw)
	for _, cmd := range cmds {
		n += entryLen(cmd)
	}
	out := append(make([]byte, 0, n), c.raw...)
	for _, cmd := range cmds {
		out = appendEntry(out, cmd)
	}
	return Commands{raw: out}
}

func appendEntry(b []byte, c Command) []byte {
	b = binary.AppendUvarint(b, uint64(len(c.ID)))
	b = append(b, c.ID...)
	b = binary.AppendVarint(b, c.At)
	b = binary.BigEndian.AppendUint64(b, c.Fingerprint)
	b = binary.AppendUvarint(b, uint64(len(c.Outcome)))
	return append(b, c.Outcome...)
}

// entryLen is the length of c's entry.
func entryLen(c Command) int {
	zigzag := uint64(c.At) << 1
	if c.At < 0 {
		zigzag = ^zigzag
	}
	return uvarintLen(uint64(len(c.ID))) + len(c.ID) + uvarintLen(zigzag) + 8 + uvarintLen(uint64(len(c.Outcome))) + len(c.Outcome)
}

type entry struct {
	raw, id, outcome []byte
	at               int64
	fp               uint64
}

// entries walks the encoding. It stops at the first malformed entry;
// decodeStream has checked the whole list before any walk.
func (c Commands) entries() iter.Seq[entry] {
	return func(yield func(entry) bool) {
		b := c.raw
		for len(b) > 0 {
			e, n := nextEntry(b)
			if n == 0 || !yield(e) {
				return
			}
			b = b[n:]
		}
	}
}

// nextEntry decodes the entry at the start of b; n is 0 when malformed.
func nextEntry(b []byte) (e entry, n int) {
	l, k := binary.Uvarint(b)
	if k <= 0 || l > uint64(len(b)-k) {
		return e, 0
	}
	e.id = b[k : k+int(l)]
	n = k + int(l)
	at, k := binary.Varint(b[n:])
	if k <= 0 || len(b)-n-k < 8 {
		return e, 0
	}
	e.at = at
	n += k
	e.fp = binary.BigEndian.Uint64(b[n:])
	n += 8
	l, k = binary.Uvarint(b[n:])
	if k <= 0 || l > uint64(len(b)-n-k) {
		return e, 0
	}
	e.outcome = b[n+k : n+k+int(l)]
	n += k + int(l)
	e.raw = b[:n]
	return e, n
}

// recordFormat is the first byte of a stream record: a record of another
// format (a newer build's, read from the state topic) is refused, not
// misread.
const recordFormat = 1

// RecordLogic returns the logic version of an encoded stream record
// without decoding the rest: what a restore checks before copying it.
func RecordLogic(v []byte) (uint64, error) {
	if len(v) == 0 || v[0] != recordFormat {
		return 0, fmt.Errorf("%w: stream record format", ErrCorrupt)
	}
	logic, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return 0, fmt.Errorf("%w: stream logic version", ErrCorrupt)
	}
	return logic, nil
}

// DecodeStream reads a record written by [EncodeStream], sharing v's
// memory, and checks every remembered command in it.
func DecodeStream(v []byte) (Stream, error) {
	s, err := DecodeStreamUnchecked(v)
	if err != nil {
		return Stream{}, err
	}
	for b := s.Commands.raw; len(b) > 0; {
		_, k := nextEntry(b)
		if k == 0 {
			return Stream{}, fmt.Errorf("%w: remembered command", ErrCorrupt)
		}
		b = b[k:]
	}
	return s, nil
}

// DecodeStreamUnchecked is [DecodeStream] without the check of the
// remembered commands, for a record checked before: one this process
// encoded, or decoded once with DecodeStream. A hot stream remembers
// hundreds of ids, and its record is decoded again in every batch.
func DecodeStreamUnchecked(v []byte) (Stream, error) {
	logic, err := RecordLogic(v)
	if err != nil {
		return Stream{}, err
	}
	v = v[1+uvarintLen(logic):]
	version, n := binary.Uvarint(v)
	if n <= 0 {
		return Stream{}, fmt.Errorf("%w: stream version", ErrCorrupt)
	}
	v = v[n:]
	l, n := binary.Uvarint(v)
	if n <= 0 || l > uint64(len(v)-n) {
		return Stream{}, fmt.Errorf("%w: stream commands", ErrCorrupt)
	}
	cmds := v[n : n+int(l)]
	return Stream{Logic: logic, Version: version, Commands: Commands{raw: cmds}, State: v[n+int(l):]}, nil
}

func uvarintLen(x uint64) int { return max(1, (bits.Len64(x)+6)/7) }

// EncodeStream returns the record of s as the store and the state topic
// keep it: format | logic | version | commands length | commands | state.
// added are appended to s's commands: the same record as
// s.Commands.Append(added...) would give, without copying a hot stream's
// hundreds of ids once more on the way.
func EncodeStream(s Stream, added ...Command) []byte {
	n := len(s.Commands.raw)
	for _, c := range added {
		n += entryLen(c)
	}
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+n+len(s.State))
	b = append(b, recordFormat)
	b = binary.AppendUvarint(b, s.Logic)
	b = binary.AppendUvarint(b, s.Version)
	b = binary.AppendUvarint(b, uint64(n))
	b = append(b, s.Commands.raw...)
	for _, c := range added {
		b = appendEntry(b, c)
	}
	return append(b, s.State...)
}
