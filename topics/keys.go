package topics

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
)

// StreamKey is the key of a command or result: "<tenant>/<stream>".
func StreamKey(tenant, stream string) string { return tenant + "/" + stream }

// EventKey is the key of an event: "<tenant>/<stream>/<version>". Event
// keys are unique, so compaction never removes history.
func EventKey(tenant, stream string, version uint64) string {
	return string(appendEventKey(nil, tenant, stream, version))
}

func appendEventKey(b []byte, tenant, stream string, version uint64) []byte {
	b = append(append(append(append(b, tenant...), '/'), stream...), '/')
	return strconv.AppendUint(b, version, 10)
}

// ParseStreamKey splits a command key into a valid tenant and stream id.
func ParseStreamKey(key []byte) (tenant, stream string, ok bool) {
	tenant, stream, ok = strings.Cut(string(key), "/")
	if !ok || !aggregate.ValidID(tenant) || !aggregate.ValidID(stream) {
		return "", "", false
	}
	return tenant, stream, true
}

// ParseEventKey splits an event key into tenant, stream and version.
func ParseEventKey(key []byte) (tenant, stream string, version uint64, ok bool) {
	s := string(key)
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", "", 0, false
	}
	version, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || version == 0 {
		return "", "", 0, false
	}
	tenant, stream, ok = ParseStreamKey(key[:i])
	return tenant, stream, version, ok
}

var keyPartitioner = kgo.StickyKeyPartitioner(nil).ForTopic(Commands)

// keyRecords lend the partitioner a record to read a key from. franz-go
// exports its murmur2 only behind a *kgo.Record, and a new record of 300
// bytes per command was 2% of what the processor allocated.
var keyRecords = sync.Pool{New: func() any { return new(kgo.Record) }}

// PartitionFor is the partition Kafka's default partitioner (murmur2, as
// in the Java client and franz-go) picks for key among n partitions.
func PartitionFor(key string, n int32) int32 {
	if key == "" {
		// A nil key would be spread by the sticky partitioner instead.
		return partitionOf([]byte{}, n)
	}
	// The partitioner only reads the key, so the string's bytes serve.
	return partitionOf(unsafe.Slice(unsafe.StringData(key), len(key)), n)
}

func partitionOf(key []byte, n int32) int32 {
	r := keyRecords.Get().(*kgo.Record)
	r.Key = key
	p := keyPartitioner.Partition(r, int(n))
	r.Key = nil
	keyRecords.Put(r)
	return int32(p)
}
