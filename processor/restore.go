package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/store"
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

// restore restores parts; keysFrom holds, for the partitions a standby
// copy's key table holds, where their keys are to be read from.
func (p *Processor) restore(ctx context.Context, parts []int32, keysFrom map[int32]int64) (map[int32]store.Checkpoint, error) {
	cl, err := kgo.NewClient(p.clientOpts()...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	start := time.Now()
	// A previous owner lost with a transaction open would hold every read
	// below until the broker's transaction timeout: end it first (fence.go).
	if _, err := stableEnds(ctx, adm, []string{topics.Events, topics.Results, topics.State, topics.Keys}, parts, p.endOrphans(cl, parts)); err != nil {
		return nil, err
	}
	// The subjects' keys are read beside the streams: a partition handles
	// commands only once it has both (personal.go).
	g, gctx := errgroup.WithContext(ctx)
	var keys map[int32]int64
	g.Go(func() (err error) {
		keys, err = p.restoreKeys(gctx, adm, parts, keysFrom)
		return err
	})
	var cps map[int32]store.Checkpoint
	var stats map[int32]*restoreStats
	g.Go(func() (err error) {
		cps, stats, err = p.restoreStreams(gctx, adm, parts)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// A restore ends when both have: its time is what a takeover waits.
	took := time.Since(start)
	for _, part := range parts {
		s := stats[part]
		p.metrics.restoreSeconds.WithLabelValues(s.source.String()).Observe(took.Seconds())
		p.log.Info("partition restored", "partition", part, "source", s.source.String(),
			"state_records", s.state, "events", s.events, "results", s.results, "key_records", keys[part], "took", took.Round(time.Millisecond))
	}
	return cps, nil
}

// restoreStreams restores the partitions' streams and remembered ids
// (the steps of docs/processor.md's Restore).
func (p *Processor) restoreStreams(ctx context.Context, adm *kadm.Client, parts []int32) (map[int32]store.Checkpoint, map[int32]*restoreStats, error) {
	cps, sources, err := p.startingPoints(ctx, adm, parts)
	if err != nil {
		return nil, nil, err
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
			return nil, nil, err
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
					return nil, nil, err
				}
			}
			cp, err := p.foldStart(ctx, adm, part, idsKept)
			if err != nil {
				return nil, nil, err
			}
			cps[part] = cp
			stats[part].source = fromEvents
			fold = append(fold, part)
		}
	}
	if len(fold) > 0 {
		if err := p.restoreEvents(ctx, adm, fold, cps, stats); err != nil {
			return nil, nil, err
		}
	}
	return cps, stats, nil
}

// startingPoints reads each partition's checkpoint and chooses where its
// restore reads from. A partition that cannot continue from its
// checkpoint is wiped.
func (p *Processor) startingPoints(ctx context.Context, adm *kadm.Client, parts []int32) (map[int32]store.Checkpoint, map[int32]source, error) {
	starts, err := adm.ListStartOffsets(ctx, topics.Events, topics.State)
	if err != nil {
		return nil, nil, fmt.Errorf("list start offsets: %w", err)
	}
	logic := int64(p.cfg.Kind.LogicVersion())
	cps, sources := map[int32]store.Checkpoint{}, map[int32]source{}
	for _, part := range parts {
		eventsStart, err1 := logStart(starts, topics.Events, part)
		stateStart, err2 := logStart(starts, topics.State, part)
		if err := errors.Join(err1, err2); err != nil {
			return nil, nil, err
		}
		cp, found, err := p.store.Checkpoint(part)
		if err != nil && !errors.Is(err, store.ErrCorrupt) {
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
		cps[part], sources[part] = store.Checkpoint{State: stateStart, Logic: logic}, fromState
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

// foldStart is the checkpoint a fold from the log start begins at (offset
// 0: catchUp moves it up to the log start). With idsKept, the results are
// not folded: it starts at their end.
func (p *Processor) foldStart(ctx context.Context, adm *kadm.Client, part int32, idsKept bool) (store.Checkpoint, error) {
	cp := store.Checkpoint{Logic: int64(p.cfg.Kind.LogicVersion())}
	if !idsKept {
		return cp, nil
	}
	// The state records are as of the same stable end as the results:
	// the partition is ours, and no transaction was open.
	ends, err := stableEnds(ctx, adm, []string{topics.Results}, []int32{part}, nil)
	cp.Results = ends[topicPartition{topics.Results, part}]
	return cp, err
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

// orphanCheckEvery is how often stableEnds looks for a lost owner's open
// transaction while one holds the partitions back: a look is three admin
// requests, and only a takeover that waits makes them.
const orphanCheckEvery = 100 * time.Millisecond

// stableEnds waits until no transaction is open on the partitions of the
// topics (last stable offset = high watermark) and returns those ends.
// An open transaction belongs to a previous owner that is ending its
// batch, being fenced or timed out; its outcome must be known before
// reading. While one is open, stableEnds calls open, if not nil, at once
// and then every orphanCheckEvery: the owner's restore fences a lost
// owner's transaction there (endOrphans). A transaction caught between
// states when the owner died (its partitions not yet listed, its end
// under way) is no orphan at the first look, so the next look must come
// soon: it came a second later, and a takeover took a second more. The
// ends are looked at as often: a transaction ending when the owner died
// ends within a round of markers.
func stableEnds(ctx context.Context, adm *kadm.Client, names []string, parts []int32, open func(context.Context)) (map[topicPartition]int64, error) {
	var called time.Time
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, orphanCheckEvery) {
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
		if open != nil && time.Since(called) >= orphanCheckEvery {
			open(ctx)
			called = time.Now()
			continue // the fence may have ended it: look again at once
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}
