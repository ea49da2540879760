package query

import (
	"encoding/binary"
	"time"
)

// Key layout. Ids never contain '/', so "<tenant>/<stream>/" prefixes
// never overlap; fixed-width big-endian numbers keep versions and
// instants in order.
//
//	m                                  meta: logic version, longest slot
//	b                                  rebuilding: present while a model that
//	                                   replaced another has not caught up
//	c <partition:4>                    next offset of schedule-events
//	h <tenant>/<stream>                head: version, snapshot position, indexes
//	g <tenant>/<stream>                the current state (JSON)
//	e <tenant>/<stream>/ <version:8>   one event (the audit log)
//	s <tenant>/<stream>/ <version:8>   state snapshot after that version
//	a <tenant>/<stream>/ <maxTime:12> <version:8>
//	                                   instants: the latest event time up to version
//	r <tenant>/ <start:12> <stream>    schedules by slot start
//	v <tenant>/<visitor>/ <start:12> <stream>
//	                                   a visitor's schedules by slot start
const (
	prefixMeta       = 'm'
	prefixRebuilding = 'b'
	prefixCheckpoint = 'c'
	prefixHead       = 'h'
	prefixState      = 'g'
	prefixEvent      = 'e'
	prefixSnapshot   = 's'
	prefixInstant    = 'a'
	prefixRange      = 'r'
	prefixVisitor    = 'v'
	// The activity indexes (activity.go): every event of a tenant by
	// time, and by initiator, type and visitor.
	prefixActivity          = 't'
	prefixActivityInitiator = 'i'
	prefixActivityType      = 'y'
	prefixActivityVisitor   = 'w'
)

var (
	metaKey = []byte{prefixMeta}
	// rebuildingKey has a key of its own, not a field of meta: every
	// batch of the consumer rewrites meta, and the mark is cleared by the
	// goroutine that sees the model catch up.
	rebuildingKey = []byte{prefixRebuilding}
)

func headKey(tenant, stream string) []byte {
	k := make([]byte, 0, 2+len(tenant)+len(stream))
	return append(append(append(append(k, prefixHead), tenant...), '/'), stream...)
}

func stateKey(tenant, stream string) []byte {
	k := headKey(tenant, stream)
	k[0] = prefixState
	return k
}

// streamPrefix is "<prefix><tenant>/<stream>/": every key of one stream
// of one kind.
func streamPrefix(prefix byte, tenant, stream string) []byte {
	k := make([]byte, 0, 3+len(tenant)+len(stream)+20)
	return append(append(append(append(append(k, prefix), tenant...), '/'), stream...), '/')
}

func versionKey(prefix byte, tenant, stream string, v uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(prefix, tenant, stream), v)
}

func instantKey(tenant, stream string, t time.Time, v uint64) []byte {
	return binary.BigEndian.AppendUint64(appendTime(streamPrefix(prefixInstant, tenant, stream), t), v)
}

func rangePrefix(tenant string) []byte {
	return append(append([]byte{prefixRange}, tenant...), '/')
}

func rangeKey(tenant string, start time.Time, stream string) []byte {
	return append(appendTime(rangePrefix(tenant), start), stream...)
}

func visitorPrefix(tenant, visitor string) []byte {
	return append(append(append(append([]byte{prefixVisitor}, tenant...), '/'), visitor...), '/')
}

func visitorKey(tenant, visitor string, start time.Time, stream string) []byte {
	return append(appendTime(visitorPrefix(tenant, visitor), start), stream...)
}

// timeLen is the width of an encoded instant: seconds with the sign bit
// flipped, then nanoseconds. Unlike UnixNano it covers every time.Time.
const timeLen = 12

func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// prefixEnd is the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
