package replay

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// stuckAfter is how long a partition below its end may deliver nothing
// before the read gives up. Below the last stable offset every
// transaction is decided, so Kafka always delivers up to it; a partition
// that stops short has records no reader will ever see.
const stuckAfter = 30 * time.Second

// readPartition reads topic/part from start up to end (exclusive; a last
// stable offset taken before), read_committed, calling fn for each data
// record in offset order. It adds the offsets it moves past, control
// records and compacted holes included, to progress.
func readPartition(ctx context.Context, opts []kgo.Opt, topic string, part int32, start, end int64, progress *atomic.Int64, fn func(*kgo.Record) error) error {
	if start >= end {
		return nil
	}
	pos := start
	defer func() { progress.Add(end - pos) }() // the rest, once done or failed
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(start)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records mark transaction ends: keeping them shows that
		// the end was reached when the last record before it is one.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(16<<20),
		kgo.FetchMaxPartitionBytes(16<<20),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	last := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fetches.EachError(func(t string, p int32, e error) {
			if ferr == nil && !errors.Is(e, context.DeadlineExceeded) && !errors.Is(e, context.Canceled) {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, e)
			}
		})
		if ferr != nil {
			return ferr
		}
		done := false
		fetches.EachRecord(func(rec *kgo.Record) {
			if ferr != nil || done || rec.Offset >= end {
				return
			}
			last = time.Now()
			progress.Add(rec.Offset + 1 - pos)
			pos = rec.Offset + 1
			if !rec.Attrs.IsControl() {
				ferr = fn(rec)
			}
			done = rec.Offset+1 >= end
		})
		if ferr != nil || done {
			return ferr
		}
		if time.Since(last) > stuckAfter {
			return fmt.Errorf("%s/%d delivered nothing for %s below its end %d", topic, part, stuckAfter, end)
		}
	}
}
