package topics

import (
	"strconv"
	"strings"

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

// PartitionFor is the partition Kafka's default partitioner (murmur2, as
// in the Java client and franz-go) picks for key among n partitions.
func PartitionFor(key string, n int32) int32 {
	return int32(keyPartitioner.Partition(&kgo.Record{Key: []byte(key)}, int(n)))
}
