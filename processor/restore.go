package processor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/state"
	"github.com/rewind/rewind/topics"
)

// A restore brings the store's partitions up to Kafka. It reads the
// state topic when it can: from the checkpoint on when the store mirrors
// the topic (a warm restart or a standby's copy), else the whole
// partition (a lost disk), which holds one live record per stream, not
// the history. It folds schedule-events and schedule-results only when the
// state topic cannot serve: records or a completeness marker of another
// logic version, no marker (a topic younger than the events), or a
// checkpoint below the log start. The loop then copies the fold to the
// state topic (batch.produceRewrites).
//
// Partitions share nothing (keys, checkpoints and streams are per
// partition), so they restore in parallel: restoreParallelism groups,
// each with its own consumer.

// restoreParallelism is how many groups of partitions restore at once.
const restoreParallelism = 2

// restoreFlushBytes bounds the bytes of records between two Pebble
// writes of a restore: large batches go to Pebble whole, without the
// memtable's per-key inserts.
const restoreFlushBytes = 32 << 20

// source is where a partition's restore reads from.
type source int

const (
	fromStateTail source = iota // the state topic from the checkpoint on
	fromState                   // the whole state topic partition
	fromEvents                  // events and results, from the checkpoint on
)

func (s source) String() string {
	return [...]string{"state-tail", "state", "events"}[s]
}

// restoreStats is what a partition's restore read, for its log line.
type restoreStats struct {
	source                 source
	state, events, results int64
}

func (p *Processor) restore(ctx context.Context, parts []int32) (map[int32]state.Checkpoint, error) {
	adm, err := kadm.NewOptClient(p.clientOpts()...)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	start := time.Now()
	cps, sources, err := p.startingPoints(ctx, adm, parts)
	if err != nil {
		return nil, err
	}
	stats := map[int32]*restoreStats{}
	var fold []int32
	var fromTopic []int32
	for _, part := range parts {
		stats[part] = &restoreStats{source: sources[part]}
		if sources[part] == fromEvents {
			fold = append(fold, part)
		} else {
			fromTopic = append(fromTopic, part)
		}
	}
	if len(fromTopic) > 0 {
		got, err := p.restoreState(ctx, adm, fromTopic, cps, stats)
		if err != nil {
			return nil, err
		}
		for _, part := range fromTopic {
			if got[part] == stateWhole {
				continue
			}
			// The state topic cannot serve: fold the events from the
			// start. When it held every stream under one older logic
			// version, the store kept their remembered ids (see
			// stateReader.apply), and the results need no fold.
			idsKept := got[part] == stateIDs
			if !idsKept {
				if err := p.store.WipePartition(part); err != nil {
					return nil, err
				}
			}
			cp, err := p.foldStart(ctx, adm, part, idsKept)
			if err != nil {
				return nil, err
			}
			cps[part] = cp
			stats[part].source = fromEvents
			fold = append(fold, part)
		}
	}
	if len(fold) > 0 {
		if err := p.restoreEvents(ctx, adm, fold, cps, stats); err != nil {
			return nil, err
		}
	}
	took := time.Since(start)
	for _, part := range parts {
		s := stats[part]
		p.metrics.restoreSeconds.WithLabelValues(s.source.String()).Observe(took.Seconds())
		p.log.Info("partition restored", "partition", part, "source", s.source.String(),
			"state_records", s.state, "events", s.events, "results", s.results, "took", took.Round(time.Millisecond))
	}
	return cps, nil
}

// startingPoints reads each partition's checkpoint and chooses where its
// restore reads from. A partition that cannot continue from its
// checkpoint is wiped.
func (p *Processor) startingPoints(ctx context.Context, adm *kadm.Client, parts []int32) (map[int32]state.Checkpoint, map[int32]source, error) {
	starts, err := adm.ListStartOffsets(ctx, topics.Events, topics.State)
	if err != nil {
		return nil, nil, fmt.Errorf("list start offsets: %w", err)
	}
	logic := int64(p.cfg.Kind.LogicVersion())
	cps, sources := map[int32]state.Checkpoint{}, map[int32]source{}
	for _, part := range parts {
		eventsStart, err1 := logStart(starts, topics.Events, part)
		stateStart, err2 := logStart(starts, topics.State, part)
		if err := errors.Join(err1, err2); err != nil {
			return nil, nil, err
		}
		cp, found, err := p.store.Checkpoint(part)
		if err != nil && !errors.Is(err, state.ErrCorrupt) {
			return nil, nil, err
		}
		switch {
		case found && cp.Logic == logic && cp.Synced && cp.State >= stateStart:
			cps[part], sources[part] = cp, fromStateTail
			continue
		case found && cp.Logic == logic && !cp.Synced && cp.Events >= eventsStart:
			// A fold the state topic does not mirror yet: go on with it.
			cps[part], sources[part] = cp, fromEvents
			continue
		case found && cp.Logic != logic:
			p.log.Info("logic version changed: rebuilding partition", "partition", part, "stored", cp.Logic, "code", logic)
		case found:
			p.log.Warn("checkpoint below the log start: rebuilding partition", "partition", part)
		}
		if err := p.store.WipePartition(part); err != nil {
			return nil, nil, err
		}
		cps[part], sources[part] = state.Checkpoint{State: stateStart, Logic: logic}, fromState
	}
	return cps, sources, nil
}

func logStart(starts kadm.ListedOffsets, topic string, part int32) (int64, error) {
	o, ok := starts.Lookup(topic, part)
	if !ok || o.Err != nil {
		return 0, fmt.Errorf("log start of %s/%d unknown: %v", topic, part, o.Err)
	}
	return o.Offset, nil
}

// foldStart is the checkpoint a fold from the log start begins at. With
// idsKept, the results are not folded: it starts at their end.
func (p *Processor) foldStart(ctx context.Context, adm *kadm.Client, part int32, idsKept bool) (state.Checkpoint, error) {
	starts, err := adm.ListStartOffsets(ctx, topics.Events)
	if err != nil {
		return state.Checkpoint{}, fmt.Errorf("list start offsets: %w", err)
	}
	start, err := logStart(starts, topics.Events, part)
	cp := state.Checkpoint{Events: start, Logic: int64(p.cfg.Kind.LogicVersion())}
	if err != nil || !idsKept {
		return cp, err
	}
	// The state records are as of the same stable end as the results:
	// the partition is ours, and no transaction was open.
	ends, err := stableEnds(ctx, adm, []string{topics.Results}, []int32{part})
	cp.Results = ends[topicPartition{topics.Results, part}]
	return cp, err
}

// stateResult is what a read of the state topic gave a partition.
type stateResult int

const (
	stateNone  stateResult = iota // nothing usable: fold everything
	stateIDs                      // every stream's remembered ids, under an older logic version: fold the events
	stateWhole                    // the store mirrors the topic
)

// restoreState applies the state topic to the partitions, each from its
// checkpoint's State offset, and reports per partition what it got: the
// whole state (a tail of records of this logic version, or a whole
// partition whose latest completeness marker and every stream's latest
// record are of this logic version), with the checkpoint set; or only
// the remembered ids of every stream, from a partition that is whole
// under one older logic version.
func (p *Processor) restoreState(ctx context.Context, adm *kadm.Client, parts []int32, cps map[int32]state.Checkpoint, stats map[int32]*restoreStats) (map[int32]stateResult, error) {
	ends, err := stableEnds(ctx, adm, []string{topics.State}, parts)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	got := map[int32]stateResult{}
	err = p.inGroups(ctx, parts, func(ctx context.Context, group []int32) error {
		r := p.newStateReader(map[int32]*statePart{})
		from := map[topicPartition]int64{}
		groupEnds := map[topicPartition]int64{}
		mu.Lock()
		for _, part := range group {
			tp := topicPartition{topics.State, part}
			from[tp], groupEnds[tp] = cps[part].State, ends[tp]
			r.parts[part] = newStatePart(cps[part], stats[part].source == fromStateTail, stats[part])
		}
		mu.Unlock()
		r.w = p.newWriter(0)
		defer func() { r.w.close() }()
		if err := p.catchUp(ctx, from, groupEnds, r); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for part, sp := range r.parts {
			switch {
			case sp.whole(r.logic):
				cps[part] = sp.cp
				got[part] = stateWhole
			case sp.idsOnly(r.logic):
				got[part] = stateIDs
			}
		}
		return nil
	})
	return got, err
}

// stateReader applies state topic records to the store.
type stateReader struct {
	p     *Processor
	logic uint64
	seed  []byte // the seed state, encoded
	parts map[int32]*statePart
	w     *writer
}

func (p *Processor) newStateReader(parts map[int32]*statePart) *stateReader {
	seed, _ := p.cfg.Kind.AppendState(nil, p.cfg.Kind.Seed())
	return &stateReader{p: p, logic: uint64(p.cfg.Kind.LogicVersion()), seed: seed, parts: parts}
}

type statePart struct {
	cp     state.Checkpoint
	tail   bool   // the store mirrored the topic up to cp.State
	failed bool   // a record this logic version cannot use
	marker uint64 // the latest completeness marker's logic; 0 for none
	// bad holds the streams whose latest record is of another logic
	// version, seen since the latest marker; a marker clears it, as
	// every stream of the fold it follows was copied before it (a
	// stream left with an old record has no event: a rejection whose
	// result expired). tooLarge holds the streams whose latest record
	// was too large for the topic: no marker clears those.
	bad, tooLarge map[string]bool
	stats         *restoreStats
	// lastMarker is the latest marker's logic version, whatever it is;
	// logics the logic version of each stream's latest record (whole
	// reads only): together they tell a partition whole under an older
	// logic version.
	lastMarker uint64
	logics     map[string]uint64
}

func newStatePart(cp state.Checkpoint, tail bool, stats *restoreStats) *statePart {
	return &statePart{cp: cp, tail: tail, bad: map[string]bool{}, tooLarge: map[string]bool{}, stats: stats, logics: map[string]uint64{}}
}

// idsOnly reports whether a whole read found every stream's latest record
// computed by one older logic version, which its latest marker names: the
// store then holds every stream's remembered ids (and nothing else).
func (sp *statePart) idsOnly(logic uint64) bool {
	if sp.tail || sp.failed || len(sp.tooLarge) > 0 || sp.lastMarker == 0 || sp.lastMarker == logic {
		return false
	}
	for _, l := range sp.logics {
		if l != sp.lastMarker {
			return false
		}
	}
	return true
}

// whole reports whether the partition's store now mirrors the state
// topic completely.
func (sp *statePart) whole(logic uint64) bool {
	if sp.failed || len(sp.tooLarge) > 0 {
		return false
	}
	return sp.tail || (sp.marker == logic && len(sp.bad) == 0)
}

func (r *stateReader) apply(rec *kgo.Record) error {
	sp := r.parts[rec.Partition]
	sp.cp.State = rec.Offset + 1
	if rec.Attrs.IsControl() || sp.failed {
		return nil
	}
	sp.stats.state++
	key := string(rec.Key)
	if key == topics.CompleteKey {
		logic, err := topics.ParseComplete(rec.Value)
		sp.marker, sp.lastMarker = logic, logic
		if err != nil || logic != r.logic {
			sp.marker = 0
			sp.failed = sp.tail // a rewrite by another logic version since our copy
		} else {
			clear(sp.bad)
		}
		return nil
	}
	delete(sp.bad, key)
	delete(sp.tooLarge, key)
	delete(sp.logics, key)
	if rec.Value == nil {
		return r.w.wb.DeleteStream(rec.Partition, key)
	}
	if topics.Oversized(rec.Value) {
		// The store cannot have this stream's state from the topic:
		// whole or tail, the partition must be folded.
		sp.tooLarge[key] = true
		sp.failed = sp.tail
		return nil
	}
	logic, err := state.RecordLogic(rec.Value)
	if !sp.tail {
		sp.logics[key] = logic
	}
	if err != nil || logic != r.logic {
		sp.bad[key] = true
		sp.failed = sp.tail
		if err != nil || sp.tail {
			return nil
		}
		// Another logic version's state is no use, but the ids it
		// remembers, with their first outcomes, are facts: kept with the
		// seed state at version 0, they spare a fold the results.
		old, err := state.DecodeStream(rec.Value)
		if err != nil {
			return nil
		}
		ids := state.EncodeStream(state.Stream{Logic: r.logic, State: r.seed, Commands: old.Commands})
		return r.w.wb.SetStream(rec.Partition, key, ids)
	}
	// The record's bytes are the store's: copied as they come.
	return r.w.wb.SetStream(rec.Partition, key, rec.Value)
}

// fetchBytes: records are copied as they come, never decoded, so large
// responses cost little heap.
func (r *stateReader) fetchBytes() int32 { return 32 << 20 }

func (r *stateReader) skip(tp topicPartition, offset int64) { r.parts[tp.part].cp.State = offset }

func (r *stateReader) flushDue() bool { return r.w.wb.Len() >= restoreFlushBytes }

// flush writes the batch. A tail's checkpoint moves with it; a whole
// partition gets its checkpoint only at the end, once it is known to be
// whole: a crash before that leaves no checkpoint, and the next restore
// starts over.
func (r *stateReader) flush(last bool) error {
	for part, sp := range r.parts {
		if (sp.tail && !sp.failed) || (last && sp.whole(r.logic)) {
			sp.cp.Synced = true
			if err := r.w.wb.SetCheckpoint(part, sp.cp); err != nil {
				return err
			}
		}
	}
	if err := r.w.commit(); err != nil {
		return err
	}
	r.w.close()
	r.w = r.p.newWriter(0)
	return nil
}

// restoreEvents folds schedule-events into the stream states and
// schedule-results into the remembered command ids, each from its
// checkpoint to a point with no open transaction.
func (p *Processor) restoreEvents(ctx context.Context, adm *kadm.Client, parts []int32, cps map[int32]state.Checkpoint, stats map[int32]*restoreStats) error {
	ends, err := stableEnds(ctx, adm, []string{topics.Events, topics.Results}, parts)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	return p.inGroups(ctx, parts, func(ctx context.Context, group []int32) error {
		r := &folder{p: p, cps: map[int32]state.Checkpoint{}, stats: stats,
			streams: make(map[streamRef]*stream, restoreFlushEvery), kept: map[streamRef][]byte{}}
		from := map[topicPartition]int64{}
		groupEnds := map[topicPartition]int64{}
		mu.Lock()
		for _, part := range group {
			r.cps[part] = cps[part]
			from[topicPartition{topics.Events, part}] = cps[part].Events
			from[topicPartition{topics.Results, part}] = cps[part].Results
		}
		mu.Unlock()
		for tp := range from {
			groupEnds[tp] = ends[tp]
		}
		if err := p.catchUp(ctx, from, groupEnds, r); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		maps.Copy(cps, r.cps)
		return nil
	})
}

// inGroups runs restore in up to restoreParallelism groups of parts at
// once.
func (p *Processor) inGroups(ctx context.Context, parts []int32, restore func(context.Context, []int32) error) error {
	n := min(restoreParallelism, len(parts))
	groups := make([][]int32, n)
	for i, part := range parts {
		groups[i%n] = append(groups[i%n], part)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, group := range groups {
		g.Go(func() error { return restore(gctx, group) })
	}
	return g.Wait()
}

// stableEnds waits until no transaction is open on the partitions of the
// topics (last stable offset = high watermark) and returns those ends.
// An open transaction belongs to a previous owner that is being fenced or
// timed out; its outcome must be known before reading.
func stableEnds(ctx context.Context, adm *kadm.Client, names []string, parts []int32) (map[topicPartition]int64, error) {
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		hwm, err := adm.ListEndOffsets(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("list end offsets: %w", err)
		}
		lso, err := adm.ListCommittedOffsets(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("list stable offsets: %w", err)
		}
		ends, stable := map[topicPartition]int64{}, true
		for _, t := range names {
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
	pos := maps.Clone(from)
	offsets := map[string]map[int32]kgo.Offset{}
	remaining := 0
	for tp, end := range ends {
		if pos[tp] >= end {
			continue
		}
		if offsets[tp.topic] == nil {
			offsets[tp.topic] = map[int32]kgo.Offset{}
		}
		offsets[tp.topic][tp.part] = kgo.NewOffset().At(pos[tp])
		remaining++
	}
	if remaining == 0 {
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
	done := map[topicPartition]bool{}
	progress := map[topicPartition]time.Time{}
	for tp := range ends {
		progress[tp] = time.Now()
	}
	defer p.clearProgress(ends)
	for remaining > 0 {
		p.exportProgress(pos, ends)
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
			if ferr != nil || done[tp] || rec.Offset >= ends[tp] {
				return
			}
			ferr = a.apply(rec)
			pos[tp] = rec.Offset + 1
			progress[tp] = time.Now()
			if rec.Offset+1 >= ends[tp] {
				done[tp] = true
				remaining--
			}
		})
		if ferr != nil {
			return ferr
		}
		for tp, end := range ends {
			if done[tp] || pos[tp] >= end || time.Since(progress[tp]) < stuckAfter {
				continue
			}
			tail, err := p.abortedTail(ctx, tp, pos[tp], end)
			if err != nil {
				return err
			}
			progress[tp] = time.Now()
			if tail {
				a.skip(tp, end)
				pos[tp] = end
				done[tp] = true
				remaining--
			}
		}
		if a.flushDue() {
			if err := a.flush(false); err != nil {
				return err
			}
		}
	}
	return a.flush(true)
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
			p.log.Warn("aborted records without a marker at the end of a partition", "topic", tp.topic, "partition", tp.part, "from", from, "end", end)
			return true, nil
		}
	}
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

// restoreFlushEvery bounds the records folded between two Pebble writes.
const restoreFlushEvery = 100000

// foldKeepBytes bounds the encoded records a fold keeps in memory after
// writing them. Events of many streams interleave, so a stream comes back
// after its record was flushed; reading it back from Pebble was a third
// of a fold's time.
const foldKeepBytes = 64 << 20

// folder folds events and results into an overlay of streams and flushes
// it with checkpoints.
type folder struct {
	p       *Processor
	cps     map[int32]state.Checkpoint
	stats   map[int32]*restoreStats
	streams map[streamRef]*stream
	pending int
	buf     []byte
	// kept are records already written, as written, up to foldKeepBytes.
	kept      map[streamRef][]byte
	keptBytes int
}

// apply folds one record and advances its checkpoint.
func (r *folder) apply(rec *kgo.Record) error {
	r.skip(topicPartition{rec.Topic, rec.Partition}, rec.Offset+1)
	r.pending++
	if rec.Attrs.IsControl() {
		return nil
	}
	if rec.Topic == topics.Events {
		r.stats[rec.Partition].events++
		return r.foldEvent(rec)
	}
	r.stats[rec.Partition].results++
	return r.foldResult(rec)
}

func (r *folder) skip(tp topicPartition, offset int64) {
	cp := r.cps[tp.part]
	if tp.topic == topics.Events {
		cp.Events = offset
	} else {
		cp.Results = offset
	}
	r.cps[tp.part] = cp
}

func (r *folder) fetchBytes() int32 { return 4 << 20 }

func (r *folder) flushDue() bool { return r.pending >= restoreFlushEvery }

func (r *folder) foldEvent(rec *kgo.Record) error {
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

func (r *folder) foldResult(rec *kgo.Record) error {
	if _, status, ok := topics.ResultHead(rec); ok && status == topics.StatusDuplicate {
		return nil
	}
	res, err := topics.DecodeResult(rec.Value)
	tenant, stream, valid := topics.ParseStreamKey(rec.Key)
	// A refused reuse of an id is not that id's outcome: the processor
	// did not remember it, and neither does a restore.
	if err != nil || !valid || res.Status == topics.StatusDuplicate || res.Code == CodeIdempotencyKeyReused {
		return nil
	}
	// Only outcomes of records on their stream's partition are
	// remembered (topics.Command.Routed), as when the processor handled
	// them.
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
	st.remember(state.Command{ID: res.CommandID, At: rec.Timestamp.UnixNano(), Fingerprint: topics.ResultFingerprint(rec),
		Outcome: appendOutcome(nil, &res)})
	return nil
}

func (r *folder) stream(ref streamRef) (st *stream, err error) {
	if st, ok := r.streams[ref]; ok {
		return st, nil
	}
	if record, ok := r.kept[ref]; ok {
		st, err = r.p.decodeStream(ref, record)
	} else {
		st, err = r.p.loadStream(ref)
	}
	if err != nil {
		return nil, err
	}
	r.streams[ref] = st
	return st, nil
}

// flush writes the overlay and the checkpoints reached, then starts a new
// overlay.
func (r *folder) flush(bool) error {
	w := r.p.newWriter(len(r.streams))
	defer w.close()
	for ref, st := range r.streams {
		if !st.dirty {
			continue
		}
		var value []byte
		var err error
		if value, r.buf, err = r.p.encodeRecord(ref, st, r.buf); err != nil {
			return err
		}
		if err := w.set(record{ref, value}, 0); err != nil {
			return err
		}
		if r.keptBytes+len(value) > foldKeepBytes {
			clear(r.kept)
			r.keptBytes = 0
		}
		r.keptBytes += len(value) - len(r.kept[ref])
		r.kept[ref] = value
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
