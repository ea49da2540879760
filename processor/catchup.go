package processor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/internal/logread"
)

// applier is what catchUp feeds.
type applier interface {
	// apply takes the next record of a partition, control records
	// included.
	apply(rec *kgo.Record) error
	// skip moves a partition's position to offset with nothing to apply
	// (a tail of aborted records).
	skip(tp topicPartition, offset int64)
	flushDue() bool
	// fetchBytes bounds a fetch response.
	fetchBytes() int32
	// flush writes what was applied; last is set for the final one.
	flush(last bool) error
}

// catchUp reads the topic partitions from their offsets in from to their
// ends with read_committed, into a, and flushes a for the last time. It
// exports the records left per partition while it runs.
func (p *Processor) catchUp(ctx context.Context, from, ends map[topicPartition]int64, a applier) error {
	pos, err := p.fromLogStarts(ctx, from, a)
	if err != nil {
		return err
	}
	r := &reading{a: a, pos: pos, ends: ends, done: map[topicPartition]bool{}, progress: map[topicPartition]time.Time{}}
	offsets := map[string]map[int32]kgo.Offset{}
	for tp, end := range ends {
		r.progress[tp] = time.Now()
		if pos[tp] >= end {
			continue
		}
		if offsets[tp.topic] == nil {
			offsets[tp.topic] = map[int32]kgo.Offset{}
		}
		offsets[tp.topic][tp.part] = kgo.NewOffset().At(pos[tp])
		r.remaining++
	}
	if r.remaining == 0 {
		return a.flush(true)
	}
	cl, err := kgo.NewClient(append(p.clientOpts(),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records mark transaction ends; keeping them lets us see
		// that we reached an end offset even when its last record is one.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Fetched batches decompress to several times their size, and a
		// buffered and an in-flight response are alive at once: 4 MiB
		// responses keep that near 100 MiB of heap. A compacted state
		// topic has holes: larger responses cross them in fewer requests.
		kgo.FetchMaxBytes(a.fetchBytes()),
		kgo.FetchMaxPartitionBytes(a.fetchBytes()/4),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	defer p.clearProgress(ends)
	started, logged := time.Now(), time.Now()
	for r.remaining > 0 {
		p.exportProgress(pos, ends)
		if p.cfg.hooks.RestoreProgress != nil {
			p.cfg.hooks.RestoreProgress(ctx)
		}
		if time.Since(logged) >= progressLogEvery {
			// A long restore (a fold after a logic change) says how far it
			// is in the log too, not only in rewind_processor_restore_remaining.
			logged = time.Now()
			p.log.Info("restoring", "partitions", r.remaining, "records_left", r.left(), "elapsed", time.Since(started).Round(time.Second))
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := logread.FetchError(fetches); err != nil {
			return err
		}
		if err := r.take(fetches); err != nil {
			return err
		}
		if err := p.skipAbortedTails(ctx, r); err != nil {
			return err
		}
		if a.flushDue() {
			if err := a.flush(false); err != nil {
				return err
			}
		}
	}
	return a.flush(true)
}

// reading is a catch-up under way: where each partition is, which are
// done, and when each last moved.
type reading struct {
	a         applier
	pos, ends map[topicPartition]int64
	done      map[topicPartition]bool
	progress  map[topicPartition]time.Time
	remaining int
}

// left is the records still to read.
func (r *reading) left() (n int64) {
	for tp, end := range r.ends {
		n += max(end-r.pos[tp], 0)
	}
	return n
}

// take applies the fetched records below their partitions' ends.
func (r *reading) take(fetches kgo.Fetches) error {
	var err error
	fetches.EachRecord(func(rec *kgo.Record) {
		tp := topicPartition{rec.Topic, rec.Partition}
		if err != nil || r.done[tp] || rec.Offset >= r.ends[tp] {
			return
		}
		err = r.a.apply(rec)
		r.pos[tp] = rec.Offset + 1
		r.progress[tp] = time.Now()
		if rec.Offset+1 >= r.ends[tp] {
			r.done[tp] = true
			r.remaining--
		}
	})
	return err
}

// skipAbortedTails ends the partitions that have not moved for
// stuckAfter because what is left of them is aborted records, which
// read_committed never returns.
func (p *Processor) skipAbortedTails(ctx context.Context, r *reading) error {
	for tp, end := range r.ends {
		if r.done[tp] || r.pos[tp] >= end || time.Since(r.progress[tp]) < stuckAfter {
			continue
		}
		tail, err := p.abortedTail(ctx, tp, r.pos[tp], end)
		if err != nil {
			return err
		}
		r.progress[tp] = time.Now()
		if tail {
			r.a.skip(tp, end)
			r.pos[tp] = end
			r.done[tp] = true
			r.remaining--
		}
	}
	return nil
}

// fromLogStarts moves each position below its partition's log start up to
// it: the records before were deleted (the results' retention, say). A
// partition left with no record at all has no last record to see, and
// reading it would never end.
func (p *Processor) fromLogStarts(ctx context.Context, from map[topicPartition]int64, a applier) (map[topicPartition]int64, error) {
	adm, err := kadm.NewOptClient(p.clientOpts()...)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	names := map[string]bool{}
	for tp := range from {
		names[tp.topic] = true
	}
	starts, err := adm.ListStartOffsets(ctx, slices.Collect(maps.Keys(names))...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	pos := maps.Clone(from)
	for tp, at := range pos {
		start, err := logStart(starts, tp.topic, tp.part)
		if err != nil {
			return nil, err
		}
		if at < start {
			a.skip(tp, start)
			pos[tp] = start
		}
	}
	return pos, nil
}

// exportProgress sets, per partition, the records still to read: what an
// operator watches while a partition restores.
func (p *Processor) exportProgress(pos, ends map[topicPartition]int64) {
	left := map[int32]int64{}
	for tp, end := range ends {
		left[tp.part] += max(end-pos[tp], 0)
	}
	for part, n := range left {
		p.metrics.restoreLeft.WithLabelValues(strconv.Itoa(int(part))).Set(float64(n))
	}
}

func (p *Processor) clearProgress(ends map[topicPartition]int64) {
	for tp := range ends {
		p.metrics.restoreLeft.DeleteLabelValues(strconv.Itoa(int(tp.part)))
	}
}

// progressLogEvery is how often a restore logs how far it is.
const progressLogEvery = 10 * time.Second

// stuckAfter is how long a partition below its end may deliver nothing
// before restore checks for a tail of aborted records without a marker.
const stuckAfter = 2 * time.Second

// abortedTail reports whether everything between from and end of tp is
// transactional data with no marker: records a read-committed consumer
// never delivers, so the end is never seen. With LSO = end no transaction
// is open, and a committed one always ends in a commit marker, so such
// records are aborted. Real Kafka writes abort markers; kfake does not for
// a transaction open when it was killed.
func (p *Processor) abortedTail(ctx context.Context, tp topicPartition, from, end int64) (bool, error) {
	cl, err := kgo.NewClient(append(p.clientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{tp.topic: {tp.part: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		fetches := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			return false, ctx.Err() // not seen to the end: keep waiting
		}
		if err := logread.FetchError(fetches); err != nil {
			return false, err
		}
		tail, last := true, int64(-1)
		fetches.EachRecord(func(rec *kgo.Record) {
			if rec.Offset >= end {
				return
			}
			last = max(last, rec.Offset)
			if rec.Attrs.IsControl() || !rec.Attrs.IsTransactional() {
				tail = false // visible to the main consumer, which is just slow
			}
		})
		if !tail {
			return false, nil
		}
		if last+1 >= end {
			p.log.Warn("aborted records without a marker at the end of a partition", "topic", tp.topic, "partition", tp.part, "from", from, "end", end)
			return true, nil
		}
	}
}
