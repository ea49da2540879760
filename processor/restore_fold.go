package processor

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// restoreEvents folds schedule-events into the stream states and
// schedule-results into the remembered command ids, each from its
// checkpoint to a point with no open transaction.
func (p *Processor) restoreEvents(ctx context.Context, adm *kadm.Client, parts []int32, cps map[int32]store.Checkpoint, stats map[int32]*restoreStats) error {
	ends, err := stableEnds(ctx, adm, []string{topics.Events, topics.Results}, parts, nil)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	return p.inGroups(ctx, parts, func(ctx context.Context, group []int32) error {
		r := &folder{p: p, cps: map[int32]store.Checkpoint{}, stats: stats,
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
	cps     map[int32]store.Checkpoint
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
	data, err := r.p.cfg.Kind.DecodeEvent(e.Type, e.Schema, e.Raw)
	if err != nil {
		r.p.log.Warn("undecodable event skipped", "partition", rec.Partition, "offset", rec.Offset, "code", aggregate.CodeOf(err))
	} else {
		e.Data = data
		// The events hold personal values sealed; states keep none. Only
		// an event that holds some can add one: the rest skip the walk of
		// the state, which grows with its lists.
		st.state = r.p.cfg.Kind.Apply(st.state, &e.Envelope)
		if aggregate.HoldsPersonal(data) {
			st.state, _ = aggregate.DropPersonal(st.state)
		}
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
	if err != nil || !valid || !res.Own() {
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
	st.remember(store.Command{ID: res.CommandID, At: rec.Timestamp.UnixNano(), Fingerprint: topics.ResultFingerprint(rec),
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
	w := r.p.newWriter(recordBytes * len(r.streams))
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
