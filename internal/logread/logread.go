// Package logread reads partitions of a topic from given offsets up to
// fixed ends with read_committed, the way the replay preview and ingest's
// outcome history both read a topic once. (The processor's restore has a
// reader of its own, with checkpoints and aborted-tail checks.)
package logread

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// StuckAfter is how long a partition below its end may deliver nothing
// before it is given up. Below a last stable offset every transaction is
// decided, so Kafka delivers everything up to it; what never comes is a
// tail of aborted records without a marker (kfake, after a SIGKILL).
const StuckAfter = 30 * time.Second

// Range says what to read: per partition of Topic, the offsets from
// From (inclusive) to Ends (exclusive; last stable offsets taken before).
type Range struct {
	Topic      string
	From, Ends map[int32]int64
}

// Hooks are what a read calls back. Record is required.
type Hooks struct {
	// Record gets each data record, in offset order per partition.
	Record func(*kgo.Record) error
	// Polled, if set, runs after the records of each poll: a batch of
	// writes commits there.
	Polled func() error
	// Moved, if set, gets the offsets read past (control records and
	// compacted holes included): progress.
	Moved func(offsets int64)
}

// Read reads r with the client options opts (no hooks: a client of its
// own is made from them). It returns the partitions it gave up (see
// StuckAfter), whose rest it counted as moved past.
func Read(ctx context.Context, opts []kgo.Opt, r Range, h Hooks) (stuck []int32, err error) {
	pos, offsets := map[int32]int64{}, map[int32]kgo.Offset{}
	for p, from := range r.From {
		if from < r.Ends[p] {
			pos[p], offsets[p] = from, kgo.NewOffset().At(from)
		}
	}
	moved := func(n int64) {
		if h.Moved != nil && n > 0 {
			h.Moved(n)
		}
	}
	defer func() { // the rest, once done, given up or failed
		for p, at := range pos {
			moved(r.Ends[p] - at)
		}
	}()
	if len(pos) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.Topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records mark transaction ends: keeping them shows that
		// an end was reached when the last record before it is one.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(16<<20),
		kgo.FetchMaxPartitionBytes(16<<20),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	last := time.Now()
	for len(pos) > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ferr := FetchError(fetches)
		if ferr != nil {
			return nil, ferr
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			at, reading := pos[rec.Partition]
			if ferr != nil || !reading || rec.Offset < at || rec.Offset >= r.Ends[rec.Partition] {
				return
			}
			last = time.Now()
			moved(rec.Offset + 1 - at)
			pos[rec.Partition] = rec.Offset + 1
			if rec.Offset+1 >= r.Ends[rec.Partition] {
				delete(pos, rec.Partition)
			}
			if !rec.Attrs.IsControl() {
				ferr = h.Record(rec)
			}
		})
		if ferr == nil && h.Polled != nil {
			ferr = h.Polled()
		}
		if ferr != nil {
			return nil, ferr
		}
		if len(pos) > 0 && time.Since(last) > StuckAfter {
			stuck = slices.Sorted(maps.Keys(pos))
			return stuck, nil
		}
	}
	return nil, nil
}

// FetchError is the first error of a poll that is not its context ending
// (a bounded poll's deadline is how a reader waits), naming the
// partition.
func FetchError(fetches kgo.Fetches) error {
	var err error
	fetches.EachError(func(t string, p int32, e error) {
		if err == nil && !errors.Is(e, context.Canceled) && !errors.Is(e, context.DeadlineExceeded) {
			err = fmt.Errorf("fetch %s/%d: %w", t, p, e)
		}
	})
	return err
}
