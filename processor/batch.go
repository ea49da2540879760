package processor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/state"
	"github.com/rewind/rewind/topics"
)

// CodeInternal rejects a command whose handling failed in an unexpected
// way (a panic outside the executor); the partition moves on.
const CodeInternal = "internal_error"

// CodeEncodeFailed rejects a command whose events could not be encoded.
const CodeEncodeFailed = "encode_failed"

// batch is one transaction's work: the overlay of stream states and dedup
// entries it changed, and the offsets it produced at.
type batch struct {
	p     *Processor
	ctx   context.Context
	sess  *kgo.GroupTransactSession
	parts map[int32]owned // ready partitions when the batch began

	streams map[streamRef]*stream
	dedup   map[dedupRef]dedupEntry
	outcome map[outcomeKey]int
	events  map[string]int

	mu       sync.Mutex
	inflight sync.WaitGroup
	next     map[topicPartition]int64 // next offset after what we produced
	err      error
}

type streamRef struct {
	part int32
	key  string // tenant/stream
}

type stream struct {
	part    int32
	version uint64
	state   any
	dirty   bool
	// stored is set when Pebble holds a record of the stream (or will,
	// after this batch). A stream has dedup entries only if it is stored,
	// so for a new stream the dedup lookup, a sure miss, is skipped.
	stored bool
}

type dedupRef struct {
	part      int32
	key       string
	commandID string
}

// dedupEntry is a command id's first outcome: the value of its result
// record, and the command's time.
type dedupEntry struct {
	at     time.Time
	result []byte
}

type outcomeKey struct{ typ, status string }

type topicPartition struct {
	topic string
	part  int32
}

func (p *Processor) newBatch(ctx context.Context, sess *kgo.GroupTransactSession) *batch {
	return &batch{
		p: p, ctx: ctx, sess: sess, parts: p.parts.snapshot(),
		streams: map[streamRef]*stream{}, dedup: map[dedupRef]dedupEntry{},
		outcome: map[outcomeKey]int{}, events: map[string]int{},
		next: map[topicPartition]int64{},
	}
}

// handle turns one command record into events and exactly one result. It
// returns an error only for infrastructure failures (Pebble, encoding a
// result), which abort the batch; every problem with the record itself
// becomes a rejected result. Nothing is produced before the outcome is
// known, so a panic anywhere leaves a rejection without events.
func (b *batch) handle(rec *kgo.Record) (err error) {
	res := &topics.Result{}
	cmd, rejection := topics.DecodeCommand(rec, b.p.nparts)
	res.CommandID, res.TenantID, res.ScheduleID = cmd.Meta.ID, cmd.Meta.Tenant, cmd.Meta.Stream
	defer func() {
		// I5: nothing about one record may stop the partition.
		if r := recover(); r != nil {
			b.p.log.Error("panic handling command", "partition", rec.Partition, "offset", rec.Offset, "panic", fmt.Sprint(r))
			setRejection(res, aggregate.Reject(CodeInternal, "internal error"))
			err = b.finish(rec, cmd, res, nil, nil)
		}
	}()
	if !cmd.Routed {
		setRejection(res, rejection)
		return b.finish(rec, cmd, res, nil, nil)
	}
	ref := streamRef{rec.Partition, topics.StreamKey(cmd.Meta.Tenant, cmd.Meta.Stream)}
	st, err := b.stream(ref)
	if err != nil {
		return err
	}
	res.Version = st.version
	dref := dedupRef{ref.part, ref.key, cmd.Meta.ID}
	first, err := b.firstOutcome(dref, st.stored, cmd.Meta.Time)
	if err != nil {
		return err
	}
	if first != nil {
		res.Status, res.FirstStatus = topics.StatusDuplicate, first.Status
		res.Code, res.Message, res.Version, res.Events = first.Code, first.Message, first.Version, first.Events
		return b.finish(rec, cmd, res, nil, nil)
	}
	// The outcome enters the dedup index, so the stream must be stored.
	if !st.stored {
		st.dirty, st.stored = true, true
	}
	if rejection != nil {
		setRejection(res, rejection)
		return b.finish(rec, cmd, res, nil, &dref)
	}
	events, err := b.execute(st, cmd, res)
	if err != nil {
		setRejection(res, err)
	}
	return b.finish(rec, cmd, res, events, &dref)
}

// execute runs the command on the stream. On success it advances the
// stream, fills res and returns the event records to produce.
func (b *batch) execute(st *stream, cmd topics.Command, res *topics.Result) ([]*kgo.Record, error) {
	kind := b.p.cfg.Kind
	c, err := kind.DecodeCommand(cmd.Type, cmd.Data)
	if err != nil {
		return nil, err
	}
	next, events, err := kind.Execute(st.state, st.version, cmd.Type, c, cmd.Meta)
	if err != nil {
		return nil, err
	}
	recs := make([]*kgo.Record, len(events))
	for i := range events {
		data, err := kind.EncodeEvent(events[i].Data)
		if err != nil {
			return nil, aggregate.Reject(CodeEncodeFailed, "event %s: %v", events[i].Type, err)
		}
		recs[i] = topics.EventRecord(&events[i], data, st.part)
	}
	for _, e := range events {
		b.events[e.Type]++
		res.Events = append(res.Events, topics.ResultEvent{Type: e.Type, Version: e.Version})
	}
	st.state, st.version, st.dirty = next, st.version+uint64(len(events)), true
	res.Status, res.Version = topics.StatusAccepted, st.version
	return recs, nil
}

// finish produces the command's events and its one result, and records
// the result as the command id's first outcome when dref is set.
func (b *batch) finish(rec *kgo.Record, cmd topics.Command, res *topics.Result, events []*kgo.Record, dref *dedupRef) error {
	r, err := topics.ResultRecord(res, rec.Key, rec.Partition)
	if err != nil {
		return fmt.Errorf("processor: encode result: %w", err)
	}
	r.Timestamp = cmd.Meta.Time // restore dates dedup entries by it
	for _, e := range events {
		b.produce(e)
	}
	b.produce(r)
	if dref != nil {
		b.dedup[*dref] = dedupEntry{at: cmd.Meta.Time, result: r.Value}
	}
	typ := cmd.Type
	if !b.p.known[typ] {
		typ = "unknown" // keeps label cardinality bounded
	}
	b.outcome[outcomeKey{typ, res.Status}]++
	return nil
}

// stream returns the stream from the overlay, then Pebble, then the seed.
func (b *batch) stream(ref streamRef) (*stream, error) {
	if st, ok := b.streams[ref]; ok {
		return st, nil
	}
	gen := b.parts[ref.part].gen
	if c, ok := b.p.cache.get(ref, gen); ok {
		st := &stream{part: ref.part, version: c.version, state: c.state, stored: c.stored}
		b.streams[ref] = st
		return st, nil
	}
	st, err := b.p.loadStream(ref)
	if err != nil {
		return nil, err
	}
	b.p.cache.put(ref, cached{gen: gen, version: st.version, state: st.state, stored: st.stored})
	b.streams[ref] = st
	return st, nil
}

// loadStream reads a stream from Pebble, or returns the seed.
func (p *Processor) loadStream(ref streamRef) (*stream, error) {
	st := &stream{part: ref.part, state: p.cfg.Kind.Seed()}
	version, data, found, err := p.store.Stream(ref.part, ref.key)
	if err != nil || !found {
		return st, err
	}
	st.stored = true
	s, err := p.cfg.Kind.DecodeState(data)
	if err != nil {
		return nil, fmt.Errorf("processor: stored state of %s on partition %d undecodable: %w", ref.key, ref.part, err)
	}
	st.state, st.version = s, version
	return st, nil
}

// firstOutcome returns the first outcome of the command id on its stream
// within the dedup window before at, or nil.
func (b *batch) firstOutcome(ref dedupRef, stored bool, at time.Time) (*topics.Result, error) {
	e, ok := b.dedup[ref]
	if !ok {
		if !stored {
			return nil, nil
		}
		result, stored, found, err := b.p.store.Dedup(ref.part, ref.key, ref.commandID)
		if err != nil || !found {
			return nil, err
		}
		e = dedupEntry{at: stored, result: result}
	}
	if e.at.Before(at.Add(-b.p.cfg.DedupWindow)) {
		return nil, nil
	}
	first, err := topics.DecodeResult(e.result)
	if err != nil {
		return nil, nil // an undecodable entry is no proof of a duplicate
	}
	return &first, nil
}

func setRejection(res *topics.Result, err error) {
	res.Status, res.Code, res.Message, res.Events = topics.StatusRejected, aggregate.CodeOf(err), err.Error(), nil
	var r *aggregate.Rejection
	if errors.As(err, &r) {
		res.Message = r.Message
	}
	if res.Code == "" {
		res.Code = CodeInternal
	}
}

// produce sends a record in the open transaction and tracks its offset.
func (b *batch) produce(r *kgo.Record) {
	b.inflight.Add(1)
	b.sess.Produce(b.ctx, r, func(r *kgo.Record, err error) {
		defer b.inflight.Done()
		b.mu.Lock()
		defer b.mu.Unlock()
		if err != nil {
			if b.err == nil {
				b.err = fmt.Errorf("processor: produce to %s/%d: %w", r.Topic, r.Partition, err)
			}
			return
		}
		tp := topicPartition{r.Topic, r.Partition}
		if r.Offset+1 > b.next[tp] {
			b.next[tp] = r.Offset + 1
		}
	})
}

// wait blocks until every record of the batch is acknowledged or failed.
func (b *batch) wait() {
	if err := b.sess.Client().Flush(b.ctx); err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	b.inflight.Wait()
}

// persist writes the overlay and the new checkpoints to Pebble in one
// batch, for the partitions still owned in the same generation.
func (b *batch) persist() error {
	cps := map[int32]state.Checkpoint{}
	for tp, next := range b.next {
		cp, ok := cps[tp.part]
		if !ok {
			cp = b.parts[tp.part].cp
		}
		switch tp.topic {
		case topics.Events:
			cp.Events = max(cp.Events, next)
		case topics.Results:
			cp.Results = max(cp.Results, next)
		}
		cps[tp.part] = cp
	}
	return b.p.parts.commit(b.parts, cps, func(keep func(int32) bool) error {
		wb := b.p.store.NewBatch()
		defer wb.Close()
		for ref, st := range b.streams {
			if !st.dirty || !keep(ref.part) {
				continue
			}
			data, err := b.p.cfg.Kind.EncodeState(st.state)
			if err != nil {
				return fmt.Errorf("processor: encode state: %w", err)
			}
			if err := wb.SetStream(ref.part, ref.key, st.version, data); err != nil {
				return err
			}
		}
		for ref, e := range b.dedup {
			if keep(ref.part) {
				if err := wb.SetDedup(ref.part, ref.key, ref.commandID, e.at, e.result); err != nil {
					return err
				}
			}
		}
		for part, cp := range cps {
			if keep(part) {
				if err := wb.SetCheckpoint(part, cp); err != nil {
					return err
				}
			}
		}
		if err := wb.Commit(); err != nil {
			return err
		}
		for ref, st := range b.streams {
			if st.dirty && keep(ref.part) {
				b.p.cache.put(ref, cached{gen: b.parts[ref.part].gen, version: st.version, state: st.state, stored: true})
			}
		}
		return nil
	})
}

// count adds the committed batch to the metrics.
func (b *batch) count() {
	m := b.p.metrics
	for k, n := range b.outcome {
		m.commands.WithLabelValues(k.typ, k.status).Add(float64(n))
	}
	for typ, n := range b.events {
		m.events.WithLabelValues(typ).Add(float64(n))
	}
}
