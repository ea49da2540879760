package processor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// CodeInternal rejects a command whose handling failed in an unexpected
// way (a panic outside the executor); the partition moves on.
const CodeInternal = "internal_error"

// CodeEncodeFailed rejects a command whose events could not be encoded.
const CodeEncodeFailed = "encode_failed"

// batch is one transaction's work: the overlay of stream states and
// remembered commands it changed, and the offsets it produced at.
type batch struct {
	p     *Processor
	ctx   context.Context
	sess  *kgo.GroupTransactSession
	parts map[int32]owned // ready partitions when the batch began

	streams  map[streamRef]*stream
	records  []record         // the stream records the batch produced, to store after the commit
	rewrites map[int32]string // per partition being copied to the state topic, where this batch's part ended ("" at the end)
	outcome  map[outcomeKey]int
	events   map[string]int
	keys     map[slotRef]*keySlot // key records the batch changed (personal.go)

	mu       sync.Mutex
	inflight sync.WaitGroup
	promise  func(*kgo.Record, error) // b.produced, made once
	next     map[topicPartition]int64 // next offset after what we produced
	err      error                    // the first failed produce, under mu
}

type outcomeKey struct{ typ, status string }

type topicPartition struct {
	topic string
	part  int32
}

func (p *Processor) newBatch(ctx context.Context, sess *kgo.GroupTransactSession) *batch {
	b := &batch{
		p: p, ctx: ctx, sess: sess, parts: p.parts.snapshot(),
		streams: map[streamRef]*stream{},
		outcome: map[outcomeKey]int{}, events: map[string]int{},
		next: map[topicPartition]int64{},
	}
	b.promise = b.produced // one closure per batch, not one per record
	return b
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
		// I5 (docs/processor.md): nothing about one record may stop the partition.
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
	if cmd.Type == topics.TypeErase && rejection == nil {
		return b.erase(rec, cmd, res)
	}
	ref := streamRef{rec.Partition, topics.StreamKey(cmd.Meta.Tenant, cmd.Meta.Stream)}
	st, err := b.stream(ref)
	if err != nil {
		return err
	}
	res.Version = st.version
	fp := cmd.Fingerprint()
	first, reused := b.firstOutcome(st, cmd.Meta.ID, fp, cmd.Meta.Time)
	if reused {
		setRejection(res, aggregate.Reject(topics.CodeIdempotencyKeyReused,
			"command id %q was used for another request on this schedule; send a new id for a new command", cmd.Meta.ID))
		return b.finish(rec, cmd, res, nil, nil)
	}
	if first != nil {
		res.Status, res.FirstStatus = topics.StatusDuplicate, first.Status
		res.Code, res.Message, res.Version, res.Events = first.Code, first.Message, first.Version, first.Events
		return b.finish(rec, cmd, res, nil, nil)
	}
	res.Fingerprint = fp
	if rejection != nil {
		setRejection(res, rejection)
		return b.finish(rec, cmd, res, nil, st)
	}
	events, err := b.execute(st, cmd, res)
	if err != nil {
		setRejection(res, err)
	}
	return b.finish(rec, cmd, res, events, st)
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
	if next, events, err = b.seal(st, cmd, c, next, events); err != nil {
		return nil, err
	}
	if st.version == 0 && len(events) > 0 {
		ref := slotRef{tenant: cmd.Meta.Tenant, subject: kind.Subject(next, c), part: st.part}
		if err := b.countSchedule(ref, cmd.Meta.Time); err != nil {
			return nil, err
		}
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

// finish produces the command's events and its one result. When st is
// set, the stream remembers the command id with the result as its first
// outcome.
func (b *batch) finish(rec *kgo.Record, cmd topics.Command, res *topics.Result, events []*kgo.Record, st *stream) error {
	r := topics.ResultRecord(res, rec.Key, rec.Partition)
	r.Timestamp = cmd.Meta.Time // restore dates remembered ids by it
	for _, e := range events {
		b.produce(e)
	}
	b.produce(r)
	if st != nil {
		st.remember(store.Command{ID: cmd.Meta.ID, At: cmd.Meta.Time.UnixNano(), Fingerprint: res.Fingerprint, Outcome: appendOutcome(nil, res)})
	}
	typ := cmd.Type
	if !b.p.known[typ] {
		typ = "unknown" // keeps label cardinality bounded
	}
	b.outcome[outcomeKey{typ, res.Status}]++
	return nil
}

// stream returns the stream from the overlay, where prefetch put it.
func (b *batch) stream(ref streamRef) (*stream, error) {
	if st, ok := b.streams[ref]; ok {
		return st, nil
	}
	if err := b.prefetch([]streamRef{ref}); err != nil {
		return nil, err
	}
	return b.streams[ref], nil
}

// prefetch puts the streams of refs into the overlay: from the cache,
// else from Pebble in one pass in key order, else the seed.
func (b *batch) prefetch(refs []streamRef) error {
	var missing []streamRef
	for _, ref := range refs {
		if _, ok := b.streams[ref]; ok {
			continue
		}
		if record, ok := b.p.cache.get(ref, b.parts[ref.part].gen); ok {
			b.p.metrics.cacheHits.Inc()
			// The cache holds records checked when read, or encoded here.
			rec, err := store.DecodeStreamUnchecked(record)
			if err != nil {
				return fmt.Errorf("processor: cached record of %s on partition %d: %w", ref.key, ref.part, err)
			}
			st, err := b.p.newStream(ref, rec)
			if err != nil {
				return err
			}
			b.streams[ref] = st
			continue
		}
		b.p.metrics.cacheMisses.Inc()
		b.streams[ref] = &stream{part: ref.part, state: b.p.cfg.Kind.Seed()}
		missing = append(missing, ref)
	}
	if len(missing) == 0 {
		return nil
	}
	keys := make([]store.Ref, len(missing))
	for i, ref := range missing {
		keys[i] = store.Ref{Partition: ref.part, Stream: ref.key}
	}
	return b.p.store.Streams(keys, func(i int, record []byte) error {
		ref := missing[i]
		st, err := b.p.decodeStream(ref, record)
		if err != nil {
			return err
		}
		b.streams[ref] = st
		b.p.cache.put(ref, b.parts[ref.part].gen, record)
		return nil
	})
}

// prefetchRecords prefetches the streams the polled records address.
// Records whose key does not route here are left to handle, which
// rejects them.
func (b *batch) prefetchRecords(recs []*kgo.Record) error {
	refs := make([]streamRef, 0, len(recs))
	for _, rec := range recs {
		if _, ready := b.parts[rec.Partition]; !ready {
			continue
		}
		if _, _, ok := topics.ParseStreamKey(rec.Key); ok {
			refs = append(refs, streamRef{rec.Partition, string(rec.Key)})
		}
	}
	return b.prefetch(refs)
}

// firstOutcome returns the first outcome of the command id on its stream
// within the dedup window before at, or nil. reused is set when the
// stream remembers the id for another request (fingerprint fp differs).
func (b *batch) firstOutcome(st *stream, id string, fp uint64, at time.Time) (first *topics.Result, reused bool) {
	c, ok := st.find(id)
	if !ok || c.At < at.Add(-b.p.cfg.DedupWindow).UnixNano() {
		return nil, false
	}
	if c.Fingerprint != 0 && fp != c.Fingerprint {
		return nil, true
	}
	first = &topics.Result{}
	if err := decodeOutcome(c.Outcome, first); err != nil {
		return nil, false // an undecodable entry is no proof of a duplicate
	}
	return first, false
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
	b.sess.Produce(b.ctx, r, b.promise)
}

// produced is the promise of every record the batch produces.
func (b *batch) produced(r *kgo.Record, err error) {
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
}

// produceErr is the first failed produce (or flush) of the batch.
func (b *batch) produceErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
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

// produceStates encodes the record of every stream the batch changed and
// produces it to the state topic, and the key records it changed to the
// key topic, in the transaction.
func (b *batch) produceStates() error {
	b.produceKeys()
	var buf []byte
	for ref, st := range b.streams {
		if !st.dirty {
			continue
		}
		var value []byte
		var err error
		if value, buf, err = b.p.encodeRecord(ref, st, buf); err != nil {
			return err
		}
		b.records = append(b.records, record{ref, value})
		b.produce(topics.StateRecord(ref.key, value, ref.part))
	}
	return nil
}

// rewriteChunk is how many stored records a batch copies to the state
// topic per partition being rewritten.
const rewriteChunk = 5000

// produceRewrites copies the next stored records of each partition being
// rewritten to the state topic, and the completeness marker after the
// last. They go before the batch's own state records, which are newer.
func (b *batch) produceRewrites(rewrites map[int32]string) error {
	logic := uint64(b.p.cfg.Kind.LogicVersion())
	b.rewrites = make(map[int32]string, len(rewrites))
	for part, after := range rewrites {
		last, err := b.p.store.PartitionStreams(part, after, rewriteChunk, func(stream string, rec []byte) error {
			b.produce(topics.StateRecord(stream, bytes.Clone(rec), part))
			return nil
		})
		if err != nil {
			return err
		}
		if last == "" {
			b.produce(topics.CompleteRecord(logic, part))
		}
		b.rewrites[part] = last
	}
	return nil
}

// answered returns the partitions the batch produced results to.
func (b *batch) answered() []int32 {
	var parts []int32
	for tp := range b.next {
		if tp.topic == topics.Results {
			parts = append(parts, tp.part)
		}
	}
	return parts
}

// persist writes the records and the new checkpoints to Pebble in one
// batch, for the partitions still owned in the same generation.
func (b *batch) persist() error {
	cps := map[int32]store.Checkpoint{}
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
		case topics.State:
			cp.State = max(cp.State, next)
		}
		cps[tp.part] = cp
	}
	for part, last := range b.rewrites {
		if last == "" {
			cp := cps[part]
			cp.Synced = true
			cps[part] = cp
		}
	}
	return b.p.parts.commit(b.parts, cps, b.rewrites, func(keep func(int32) bool) error {
		b.keepKeys(keep)
		w := b.p.newWriter(b.recordsSize())
		defer w.close()
		for _, r := range b.records {
			if keep(r.ref.part) {
				if err := w.set(r, b.parts[r.ref.part].gen); err != nil {
					return err
				}
			}
		}
		for part, cp := range cps {
			if keep(part) {
				if err := w.wb.SetCheckpoint(part, cp); err != nil {
					return err
				}
			}
		}
		return w.commit()
	})
}

// recordsSize is what the batch's records and checkpoints take in a Pebble
// batch. A hot stream's record is tens of KB: a batch sized by guess
// grows by doubling, each time a copy of all of it.
func (b *batch) recordsSize() int {
	n := len(b.next) * 64 // checkpoints: key, three offsets and a flag
	for _, r := range b.records {
		n += len(r.ref.key) + len(r.bytes) + 16 // key prefix, kind and lengths
	}
	return n
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
