package processor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/state"
	"github.com/rewind/rewind/topics"
)

// restoreFlushEvery bounds the records folded between two Pebble writes.
const restoreFlushEvery = 10000

// restore brings the Pebble state of parts up to the log: it folds
// schedule-events into the stream states and schedule-results into the
// dedup index, each from its checkpoint to a point with no open
// transaction. A checkpoint below the log start, or built by another logic
// version, wipes the partition and rebuilds it from the log start.
func (p *Processor) restore(ctx context.Context, parts []int32) (map[int32]state.Checkpoint, error) {
	adm, err := kadm.NewOptClient(p.clientOpts()...)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	cps, err := p.startingPoints(ctx, adm, parts)
	if err != nil {
		return nil, err
	}
	ends, err := stableEnds(ctx, adm, parts)
	if err != nil {
		return nil, err
	}
	// Partitions share nothing (keys, checkpoints and streams are per
	// partition), so they fold in parallel: each group with its own
	// consumer and overlay.
	groups := min(restoreParallelism, len(parts))
	restorers := make([]*restorer, groups)
	for i := range restorers {
		restorers[i] = &restorer{p: p, cps: map[int32]state.Checkpoint{}, ends: map[topicPartition]int64{},
			streams: make(map[streamRef]*stream, restoreFlushEvery), dedup: make(map[dedupRef]dedupEntry, restoreFlushEvery)}
	}
	for i, part := range parts {
		r := restorers[i%groups]
		r.cps[part] = cps[part]
		for _, t := range []string{topics.Events, topics.Results} {
			tp := topicPartition{t, part}
			r.ends[tp] = ends[tp]
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range restorers {
		g.Go(func() error { return r.run(gctx) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, r := range restorers {
		maps.Copy(cps, r.cps)
	}
	return cps, nil
}

// restoreParallelism is how many groups of partitions restore at once.
const restoreParallelism = 2

// startingPoints reads each partition's checkpoint and wipes those that
// cannot be continued.
func (p *Processor) startingPoints(ctx context.Context, adm *kadm.Client, parts []int32) (map[int32]state.Checkpoint, error) {
	starts, err := adm.ListStartOffsets(ctx, topics.Events)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	logic := int64(p.cfg.Kind.LogicVersion())
	cps := map[int32]state.Checkpoint{}
	for _, part := range parts {
		start, ok := starts.Lookup(topics.Events, part)
		if !ok || start.Err != nil {
			return nil, fmt.Errorf("log start of %s/%d unknown: %v", topics.Events, part, start.Err)
		}
		cp, found, err := p.store.Checkpoint(part)
		if err != nil && !errors.Is(err, state.ErrCorrupt) {
			return nil, err
		}
		switch {
		case found && cp.Logic == logic && cp.Events >= start.Offset:
			cps[part] = cp
			continue
		case found && cp.Logic != logic:
			p.log.Info("logic version changed: rebuilding partition", "partition", part, "stored", cp.Logic, "code", logic)
		case found:
			p.log.Warn("checkpoint below the log start: rebuilding partition", "partition", part, "checkpoint", cp.Events, "log_start", start.Offset)
		}
		if err := p.store.WipePartition(part); err != nil {
			return nil, err
		}
		cps[part] = state.Checkpoint{Events: start.Offset, Logic: logic}
	}
	return cps, nil
}

// stableEnds waits until no transaction is open on the events and results
// partitions (last stable offset = high watermark) and returns those ends.
// An open transaction belongs to a previous owner that is being fenced or
// timed out; its outcome must be known before folding.
func stableEnds(ctx context.Context, adm *kadm.Client, parts []int32) (map[topicPartition]int64, error) {
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		hwm, err := adm.ListEndOffsets(ctx, topics.Events, topics.Results)
		if err != nil {
			return nil, fmt.Errorf("list end offsets: %w", err)
		}
		lso, err := adm.ListCommittedOffsets(ctx, topics.Events, topics.Results)
		if err != nil {
			return nil, fmt.Errorf("list stable offsets: %w", err)
		}
		ends, stable := map[topicPartition]int64{}, true
		for _, t := range []string{topics.Events, topics.Results} {
			for _, part := range parts {
				h, ok1 := hwm.Lookup(t, part)
				l, ok2 := lso.Lookup(t, part)
				if !ok1 || !ok2 || h.Err != nil || l.Err != nil {
					return nil, fmt.Errorf("offsets of %s/%d unknown", t, part)
				}
				if l.Offset != h.Offset {
					stable = false
				}
				ends[topicPartition{t, part}] = h.Offset
			}
		}
		if stable {
			return ends, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// restorer folds records into an overlay and flushes it with checkpoints.
type restorer struct {
	p       *Processor
	cps     map[int32]state.Checkpoint
	ends    map[topicPartition]int64
	streams map[streamRef]*stream
	dedup   map[dedupRef]dedupEntry
	pending int
}

func (r *restorer) run(ctx context.Context) error {
	offsets := map[string]map[int32]kgo.Offset{}
	remaining := 0
	for tp, end := range r.ends {
		from := r.from(tp)
		if from >= end {
			continue
		}
		if offsets[tp.topic] == nil {
			offsets[tp.topic] = map[int32]kgo.Offset{}
		}
		offsets[tp.topic][tp.part] = kgo.NewOffset().At(from)
		remaining++
	}
	if remaining == 0 {
		return r.flush()
	}
	cl, err := kgo.NewClient(append(r.p.clientOpts(),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records mark transaction ends; keeping them lets us see
		// that we reached an end offset even when its last record is one.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Fetched batches decompress to several times their size, and a
		// buffered and an in-flight response are alive at once: 2 MiB
		// responses keep that near 100 MiB of heap.
		kgo.FetchMaxBytes(2<<20),
		kgo.FetchMaxPartitionBytes(512<<10),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	done := map[topicPartition]bool{}
	progress := map[topicPartition]time.Time{}
	for tp := range r.ends {
		progress[tp] = time.Now()
	}
	defer r.clearProgress()
	for remaining > 0 {
		r.exportProgress()
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fetchError(fetches); err != nil {
			return err
		}
		var ferr error
		fetches.EachRecord(func(rec *kgo.Record) {
			tp := topicPartition{rec.Topic, rec.Partition}
			if ferr != nil || done[tp] || rec.Offset >= r.ends[tp] {
				return
			}
			ferr = r.fold(rec)
			progress[tp] = time.Now()
			if rec.Offset+1 >= r.ends[tp] {
				done[tp] = true
				remaining--
			}
		})
		if ferr != nil {
			return ferr
		}
		for tp, end := range r.ends {
			if done[tp] || r.from(tp) >= end || time.Since(progress[tp]) < stuckAfter {
				continue
			}
			tail, err := r.abortedTail(ctx, tp)
			if err != nil {
				return err
			}
			progress[tp] = time.Now()
			if tail {
				r.setFrom(tp, end)
				done[tp] = true
				remaining--
			}
		}
		if r.pending >= restoreFlushEvery {
			if err := r.flush(); err != nil {
				return err
			}
		}
	}
	return r.flush()
}

// exportProgress sets, per partition, the records of events and results
// still to fold: what an operator watches while a partition restores.
func (r *restorer) exportProgress() {
	left := map[int32]int64{}
	for tp, end := range r.ends {
		left[tp.part] += max(end-r.from(tp), 0)
	}
	for part, n := range left {
		r.p.metrics.restoreLeft.WithLabelValues(strconv.Itoa(int(part))).Set(float64(n))
	}
}

func (r *restorer) clearProgress() {
	for part := range r.cps {
		r.p.metrics.restoreLeft.DeleteLabelValues(strconv.Itoa(int(part)))
	}
}

// stuckAfter is how long a partition below its end may deliver nothing
// before restore checks for a tail of aborted records without a marker.
const stuckAfter = 2 * time.Second

// abortedTail reports whether everything between tp's position and its end
// is transactional data with no marker: records a read-committed consumer
// never delivers, so the end is never seen. With LSO = end no transaction
// is open, and a committed one always ends in a commit marker, so such
// records are aborted. Real Kafka writes abort markers; kfake does not for
// a transaction open when it was killed.
func (r *restorer) abortedTail(ctx context.Context, tp topicPartition) (bool, error) {
	from, end := r.from(tp), r.ends[tp]
	cl, err := kgo.NewClient(append(r.p.clientOpts(),
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
		if err := fetchError(fetches); err != nil {
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
			r.p.log.Warn("aborted records without a marker at the end of a partition", "topic", tp.topic, "partition", tp.part, "from", from, "end", end)
			return true, nil
		}
	}
}

func (r *restorer) setFrom(tp topicPartition, offset int64) {
	cp := r.cps[tp.part]
	if tp.topic == topics.Events {
		cp.Events = offset
	} else {
		cp.Results = offset
	}
	r.cps[tp.part] = cp
}

func fetchError(fetches kgo.Fetches) error {
	var err error
	fetches.EachError(func(t string, p int32, e error) {
		if err == nil && !errors.Is(e, context.Canceled) && !errors.Is(e, context.DeadlineExceeded) {
			err = fmt.Errorf("fetch %s/%d: %w", t, p, e)
		}
	})
	return err
}

func (r *restorer) from(tp topicPartition) int64 {
	if tp.topic == topics.Events {
		return r.cps[tp.part].Events
	}
	return r.cps[tp.part].Results
}

// fold applies one record and advances its checkpoint.
func (r *restorer) fold(rec *kgo.Record) error {
	cp := r.cps[rec.Partition]
	if rec.Topic == topics.Events {
		cp.Events = rec.Offset + 1
	} else {
		cp.Results = rec.Offset + 1
	}
	r.cps[rec.Partition] = cp
	r.pending++
	if rec.Attrs.IsControl() {
		return nil
	}
	if rec.Topic == topics.Events {
		return r.foldEvent(rec)
	}
	return r.foldResult(rec)
}

func (r *restorer) foldEvent(rec *kgo.Record) error {
	e, err := topics.DecodeEvent(rec)
	if err != nil || e.Tombstone {
		return nil // not ours, or erased on purpose: nothing to fold
	}
	ref := streamRef{rec.Partition, topics.StreamKey(e.Tenant, e.Stream)}
	st, err := r.stream(ref)
	if err != nil {
		return err
	}
	if e.Version != st.version+1 {
		r.p.log.Warn("event version gap", "partition", rec.Partition, "offset", rec.Offset, "want", st.version+1, "got", e.Version)
	}
	data, err := r.p.cfg.Kind.DecodeEvent(e.Type, e.Raw)
	if err != nil {
		r.p.log.Warn("undecodable event skipped", "partition", rec.Partition, "offset", rec.Offset, "code", aggregate.CodeOf(err))
	} else {
		e.Data = data
		st.state = r.p.cfg.Kind.Apply(st.state, &e.Envelope)
	}
	st.version, st.dirty = e.Version, true
	r.p.metrics.restored.Inc()
	return nil
}

func (r *restorer) foldResult(rec *kgo.Record) error {
	id, status, ok := topics.ResultHead(rec)
	if !ok {
		res, err := topics.DecodeResult(rec.Value)
		if err != nil {
			return nil
		}
		id, status = res.CommandID, res.Status
	}
	tenant, stream, valid := topics.ParseStreamKey(rec.Key)
	if !valid || status == topics.StatusDuplicate {
		return nil
	}
	// A refused reuse of an id is not that id's outcome: the processor
	// did not remember it, and neither does a restore.
	if status == topics.StatusRejected {
		if res, err := topics.DecodeResult(rec.Value); err == nil && res.Code == CodeIdempotencyKeyReused {
			return nil
		}
	}
	// Only outcomes of records on their stream's partition are in the
	// index (topics.Command.Routed), as when the processor handled them.
	key := topics.StreamKey(tenant, stream)
	if topics.PartitionFor(key, r.p.nparts) != rec.Partition {
		return nil
	}
	st, err := r.stream(streamRef{rec.Partition, key})
	if err != nil {
		return err
	}
	// A later non-duplicate outcome of the same id can only follow the
	// end of the dedup window, so the latest is the one in force.
	// The copy matters: rec.Value points into a decompressed fetch buffer,
	// which the entry would otherwise keep alive until the next flush.
	st.remember(state.Command{ID: id, At: rec.Timestamp.UnixNano(), Fingerprint: topics.ResultFingerprint(rec)})
	r.dedup[dedupRef{rec.Partition, key, id}] = dedupEntry{at: rec.Timestamp, result: bytes.Clone(rec.Value)}
	return nil
}

func (r *restorer) stream(ref streamRef) (*stream, error) {
	if st, ok := r.streams[ref]; ok {
		return st, nil
	}
	st, err := r.p.loadStream(ref)
	if err != nil {
		return nil, err
	}
	r.streams[ref] = st
	return st, nil
}

// flush writes the overlay and the checkpoints reached, then starts a new
// overlay.
func (r *restorer) flush() error {
	w := r.p.newWriter(len(r.streams), len(r.dedup))
	defer w.close()
	for ref, st := range r.streams {
		if st.dirty {
			if err := w.setStream(ref, st, 0); err != nil {
				return err
			}
		}
	}
	for ref, e := range r.dedup {
		if err := w.setOutcome(ref, e); err != nil {
			return err
		}
	}
	for part, cp := range r.cps {
		if err := w.wb.SetCheckpoint(part, cp); err != nil {
			return err
		}
	}
	if err := w.commit(); err != nil {
		return err
	}
	clear(r.streams)
	clear(r.dedup)
	r.pending = 0
	return nil
}

// loadStream reads a stream from Pebble, or returns the seed.
func (p *Processor) loadStream(ref streamRef) (*stream, error) {
	rec, found, err := p.store.Stream(ref.part, ref.key)
	if err != nil {
		return nil, fmt.Errorf("processor: stored record of %s on partition %d: %w", ref.key, ref.part, err)
	}
	if !found {
		return &stream{part: ref.part, state: p.cfg.Kind.Seed()}, nil
	}
	return p.newStream(ref, rec)
}
