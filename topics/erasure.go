package topics

import (
	"encoding/binary"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/shred"
)

// CodeErasureUnsigned rejects an erasure without a valid signature: sent
// by a producer other than ingest, or signed with a key the processor
// does not hold. Nothing is destroyed.
const CodeErasureUnsigned = "erasure_unsigned"

// SignErasure signs an erasure record (EraseRecords) with s, once its
// partition is set: the signature covers the partition, the key, the
// value and every header, so it cannot be moved to another subject,
// partition or reason.
func SignErasure(r *kgo.Record, s *shred.Signer) {
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderSignature, Value: []byte(s.Sign(erasureMessage(r)))})
}

// ErasureSigned reports whether r carries one signature, valid under s.
func ErasureSigned(r *kgo.Record, s *shred.Signer) bool {
	var sig []byte
	n := 0
	for _, h := range r.Headers {
		if h.Key == HeaderSignature {
			sig, n = h.Value, n+1
		}
	}
	return s != nil && n == 1 && s.Verify(erasureMessage(r), string(sig))
}

// erasureMessage is what an erasure's signature covers, each part
// length-prefixed so that no two records share one.
func erasureMessage(r *kgo.Record) []byte {
	var b []byte
	part := func(p []byte) {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	part([]byte(r.Topic))
	part(strconv.AppendInt(nil, int64(r.Partition), 10))
	part(r.Key)
	part(r.Value)
	for _, h := range r.Headers {
		if h.Key != HeaderSignature {
			part([]byte(h.Key))
			part(h.Value)
		}
	}
	return b
}
