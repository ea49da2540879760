package topics

import (
	"encoding/binary"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The state topic holds, per stream, the processor's latest record of it
// (keyed "<tenant>/<stream>", on the stream's partition): its logic
// version, version, encoded state and remembered command ids with their
// first outcomes. The value is the processor store's own encoding, which
// only Rewind reads. It is written in the same transaction as the events,
// results and offsets it follows from, so it never runs ahead of them or
// behind them; schedule-events stays the truth, and this is a cache of it
// that a restore reads instead of the whole history.
//
// A second kind of record, under CompleteKey on each partition, says that
// every stream of the partition has a record computed by one logic
// version: written after a fold of the events was copied to the topic.
// Without it (a topic created after the events, or rewritten by another
// logic version) a restore folds the events instead.

// CompleteKey is the key of a partition's completeness marker. It holds
// no '/', so no stream key equals it.
const CompleteKey = "rewind.state-complete"

// MaxStateValue is the largest stream record the state topic takes: a
// Kafka record, with its batch, must stay under the broker's
// max.message.bytes (1 MiB by default).
const MaxStateValue = 900_000

// oversized replaces a stream record larger than MaxStateValue. It is no
// record of any logic version, so a restore that finds it as a stream's
// latest record cannot use the partition's state topic and folds the
// events instead: slow, never wrong.
var oversized = []byte{0}

// Oversized reports whether a state topic value is the marker of a stream
// record too large for the topic.
func Oversized(value []byte) bool { return len(value) == 1 && value[0] == oversized[0] }

// StateRecord is a stream's record on the state topic (or, when it is
// too large for one Kafka record, the marker that sends a restore to the
// events).
func StateRecord(key string, value []byte, p int32) *kgo.Record {
	if len(value) > MaxStateValue {
		value = oversized
	}
	return &kgo.Record{Topic: State, Partition: p, Key: []byte(key), Value: value}
}

// CompleteRecord is the completeness marker of partition p for a logic
// version.
func CompleteRecord(logic uint64, p int32) *kgo.Record {
	return &kgo.Record{Topic: State, Partition: p, Key: []byte(CompleteKey), Value: binary.AppendUvarint(nil, logic)}
}

// ParseComplete reads a completeness marker's logic version.
func ParseComplete(value []byte) (uint64, error) {
	logic, n := binary.Uvarint(value)
	if n <= 0 || n != len(value) {
		return 0, errors.New("topics: malformed state completeness marker")
	}
	return logic, nil
}

// KeyRecord is a record of schedule-keys (shred.Record's value), keyed
// "<tenant>/<subject>" on partition p: the partition of the streams whose
// personal fields the key seals, not the one the key hashes to. A subject
// has a key on each partition where it has schedules, each written only
// by that partition's owner, in the transaction of the events it seals.
func KeyRecord(key string, value []byte, p int32) *kgo.Record {
	return &kgo.Record{Topic: Keys, Partition: p, Key: []byte(key), Value: value}
}
