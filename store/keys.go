package store

import "encoding/binary"

// Key layout: 'p' | partition (4 bytes, big endian) | kind | rest, and one
// key outside the partitions for the layout version.
const (
	kindCheckpoint = 'c'
	kindStream     = 's'
)

// layoutKey holds the layout version of the whole store.
var layoutKey = []byte("layout")

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
