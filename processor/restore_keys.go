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
// partition in keysFrom, whose keys a standby copy kept in the table, is
// read from there on instead. A record the table refuses (a forged or
// copied record, a key after its destruction) is logged by offset, never
// by subject, and skipped: one bad record must not stop a partition. A
// wrong KEK file is caught at start instead (topics.VerifyKeyring).
//
// It returns how many key records it read per partition.
func (p *Processor) restoreKeys(ctx context.Context, adm *kadm.Client, parts []int32, keysFrom map[int32]int64) (read map[int32]int64, err error) {
	ends, err := stableEnds(ctx, adm, []string{topics.Keys}, parts, nil)
	if err != nil {
		return nil, err
	}
	from := map[topicPartition]int64{}
	for _, part := range parts {
		pos, warm := keysFrom[part]
		if !warm {
			p.keys.DropPartition(part) // a restore starts over
		}
		from[topicPartition{topics.Keys, part}] = pos
	}
	r := &keyReader{p: p, read: map[int32]int64{}}
	err = p.catchUp(ctx, from, ends, r)
	for _, n := range r.read {
		p.metrics.restoredKeys.Add(float64(n))
	}
	return r.read, err
}

// keyReader is catchUp's applier of key records, and a standby copy's; a
// restore's counts them per partition in read.
type keyReader struct {
	p    *Processor
	read map[int32]int64
}

func (r *keyReader) apply(rec *kgo.Record) error {
	if rec.Attrs.IsControl() {
		return nil
	}
	if r.read != nil {
		r.read[rec.Partition]++
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
