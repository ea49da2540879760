package processor

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

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
func (p *Processor) restoreState(ctx context.Context, adm *kadm.Client, parts []int32, cps map[int32]store.Checkpoint, stats map[int32]*restoreStats) (map[int32]stateResult, error) {
	ends, err := stableEnds(ctx, adm, []string{topics.State}, parts, nil)
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
	return &stateReader{p: p, logic: uint64(p.cfg.Kind.LogicVersion()), seed: p.seed, parts: parts}
}

type statePart struct {
	cp     store.Checkpoint
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

func newStatePart(cp store.Checkpoint, tail bool, stats *restoreStats) *statePart {
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
	logic, err := store.RecordLogic(rec.Value)
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
		old, err := store.DecodeStream(rec.Value)
		if err != nil {
			return nil
		}
		ids := store.EncodeStream(store.Stream{Logic: r.logic, State: r.seed, Commands: old.Commands})
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
