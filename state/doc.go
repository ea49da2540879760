// Package state is the processor's Pebble store: stream states, the
// command-id dedup index and the per-partition checkpoints (with the logic
// version they were built by). It is a disposable cache of what Kafka
// holds: everything here can be rebuilt by folding schedule-events and
// schedule-results.
//
// Every key starts with its partition, so one partition is wiped with a
// single range deletion. Writes are not synced: Kafka is the truth, and a
// lost tail is re-folded from the (equally lost) checkpoint.
//
// The package stores bytes; it knows nothing of aggregates, Kafka or JSON.
package state

import (
	"encoding/binary"
	"errors"
)

// ErrCorrupt reports a value that cannot be decoded: the store was written
// by something else. Wipe the partition and rebuild.
var ErrCorrupt = errors.New("state: corrupt value")

// Key layout: 'p' | partition (4 bytes, big endian) | kind | rest.
const (
	kindCheckpoint = 'c'
	kindStream     = 's'
	kindDedup      = 'd'
)

func partitionPrefix(p int32) []byte {
	k := make([]byte, 5, 64)
	k[0] = 'p'
	binary.BigEndian.PutUint32(k[1:], uint32(p))
	return k
}

func checkpointKey(p int32) []byte { return append(partitionPrefix(p), kindCheckpoint) }

func streamKey(p int32, stream string) []byte {
	return append(append(partitionPrefix(p), kindStream), stream...)
}

// dedupKey: stream ids never contain 0x00 (ids are validated), so the
// separator keeps (stream, command) pairs distinct.
func dedupKey(p int32, stream, commandID string) []byte {
	k := append(append(partitionPrefix(p), kindDedup), stream...)
	return append(append(k, 0), commandID...)
}
