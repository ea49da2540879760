package processor

import (
	"context"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// restoreKeys reads the key topic's partitions of parts, from their log
// start to their stable end, into the member's key table. The topic holds
// one record per subject and partition (compaction keeps the latest), so
// this reads about as many records as the partitions have subjects. A
// record the table refuses (a forged or copied record, a key after its
// destruction) is logged by offset, never by subject, and skipped: one
// bad record must not stop a partition. A wrong KEK file is caught at
// start instead (topics.VerifyKeyring).
func (p *Processor) restoreKeys(ctx context.Context, adm *kadm.Client, parts []int32) error {
	ends, err := stableEnds(ctx, adm, []string{topics.Keys}, parts, nil)
	if err != nil {
		return err
	}
	from := map[topicPartition]int64{}
	for _, part := range parts {
		p.keys.DropPartition(part) // a restore starts over
		from[topicPartition{topics.Keys, part}] = 0
	}
	return p.catchUp(ctx, from, ends, &keyReader{p: p})
}

// keyReader is catchUp's applier of key records.
type keyReader struct{ p *Processor }

func (r *keyReader) apply(rec *kgo.Record) error {
	if rec.Attrs.IsControl() {
		return nil
	}
	kr, err := shred.DecodeRecord(rec.Key, rec.Value, rec.Partition)
	if err == nil {
		err = r.p.keys.Apply(kr)
	}
	if err != nil {
		r.p.log.Warn("key record refused", "partition", rec.Partition, "offset", rec.Offset, "err", err)
	}
	return nil
}

func (r *keyReader) skip(topicPartition, int64) {}
func (r *keyReader) flushDue() bool             { return false }
func (r *keyReader) fetchBytes() int32          { return 4 << 20 }
func (r *keyReader) flush(bool) error           { return nil }
