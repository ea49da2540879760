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
	outcome map[string]int // outcome counts by "type\x00outcome"
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
	version uint64
	state   any
	dirty   bool
}

type dedupRef struct {
	part      int32
	key       string
	commandID string
}

type dedupEntry struct {
	at      time.Time
	outcome []byte
}

type topicPartition struct {
	topic string
	part  int32
}

func (p *Processor) newBatch(ctx context.Context, sess *kgo.GroupTransactSession) *batch {
	return &batch{
		p: p, ctx: ctx, sess: sess, parts: p.parts.snapshot(),
		streams: map[streamRef]*stream{}, dedup: map[dedupRef]dedupEntry{},
		outcome: map[string]int{}, events: map[string]int{},
		next: map[topicPartition]int64{},
	}
}

// handle turns one command record into events and exactly one result. It
// returns an error only for infrastructure failures (Pebble, producing),
// which abort the batch; every problem with the record itself becomes a
// rejected result.
func (b *batch) handle(rec *kgo.Record) (err error) {
	res := &topics.Result{}
	cmd, rejection := topics.DecodeCommand(rec, b.p.nparts)
	res.CommandID, res.TenantID, res.ScheduleID = cmd.Meta.ID, cmd.Meta.Tenant, cmd.Meta.Stream
	typ := cmd.Type
	defer func() {
		// I5: nothing about one record may stop the partition.
		if r := recover(); r != nil {
			b.p.log.Error("panic handling command", "partition", rec.Partition, "offset", rec.Offset, "panic", fmt.Sprint(r))
			res.Status, res.Code, res.Message, res.Events = topics.StatusRejected, CodeInternal, "internal error", nil
			err = b.produceResult(res, rec, cmd.Meta.Time, typ)
		}
	}()
	if rejection != nil {
		return b.reject(res, rejection, rec, cmd.Meta.Time, typ)
	}
	ref := streamRef{rec.Partition, topics.StreamKey(cmd.Meta.Tenant, cmd.Meta.Stream)}
	st, err := b.stream(ref)
	if err != nil {
		return err
	}
	res.Version = st.version
	dup, err := b.firstOutcome(ref, cmd.Meta)
	if err != nil {
		return err
	}
	if dup != nil {
		return b.duplicate(res, dup, rec, cmd.Meta.Time, typ)
	}
	c, err := b.p.cfg.Kind.DecodeCommand(cmd.Type, cmd.Data)
	if err != nil {
		return b.rememberAndReject(ref, res, err, rec, cmd.Meta, typ)
	}
	next, events, err := b.p.cfg.Kind.Execute(st.state, st.version, cmd.Type, c, cmd.Meta)
	if err != nil {
		return b.rememberAndReject(ref, res, err, rec, cmd.Meta, typ)
	}
	recs := make([]*kgo.Record, len(events))
	for i := range events {
		data, err := b.p.cfg.Kind.EncodeEvent(events[i].Data)
		if err != nil {
			return b.rememberAndReject(ref, res, aggregate.Reject(CodeEncodeFailed, "event %s: %v", events[i].Type, err), rec, cmd.Meta, typ)
		}
		recs[i] = topics.EventRecord(&events[i], data, rec.Partition)
	}
	for i, r := range recs {
		b.produce(r)
		b.events[events[i].Type]++
		res.Events = append(res.Events, topics.ResultEvent{Type: events[i].Type, Version: events[i].Version})
	}
	st.state, st.version, st.dirty = next, st.version+uint64(len(events)), true
	res.Status, res.Version = topics.StatusAccepted, st.version
	b.remember(ref, cmd.Meta, res)
	return b.produceResult(res, rec, cmd.Meta.Time, typ)
}

// stream returns the stream from the overlay, then Pebble, then the seed.
func (b *batch) stream(ref streamRef) (*stream, error) {
	if st, ok := b.streams[ref]; ok {
		return st, nil
	}
	st := &stream{state: b.p.cfg.Kind.Seed()}
	version, data, found, err := b.p.store.Stream(ref.part, ref.key)
	if err != nil {
		return nil, err
	}
	if found {
		s, err := b.p.cfg.Kind.DecodeState(data)
		if err != nil {
			return nil, fmt.Errorf("processor: stored state of partition %d undecodable: %w", ref.part, err)
		}
		st.state, st.version = s, version
	}
	b.streams[ref] = st
	return st, nil
}

// firstOutcome returns the first outcome of the command id on this stream
// within the dedup window, or nil.
func (b *batch) firstOutcome(ref streamRef, m aggregate.Meta) (*topics.Result, error) {
	dref := dedupRef{ref.part, ref.key, m.ID}
	e, ok := b.dedup[dref]
	if !ok {
		outcome, at, found, err := b.p.store.Dedup(ref.part, ref.key, m.ID)
		if err != nil || !found {
			return nil, err
		}
		e = dedupEntry{at: at, outcome: outcome}
	}
	if e.at.Before(m.Time.Add(-b.p.cfg.DedupWindow)) {
		return nil, nil
	}
	first, err := decodeOutcome(e.outcome)
	if err != nil {
		return nil, nil // an unreadable entry is no proof of a duplicate
	}
	return first, nil
}

func (b *batch) remember(ref streamRef, m aggregate.Meta, res *topics.Result) {
	b.dedup[dedupRef{ref.part, ref.key, m.ID}] = dedupEntry{at: m.Time, outcome: encodeOutcome(res)}
}

func (b *batch) rememberAndReject(ref streamRef, res *topics.Result, err error, rec *kgo.Record, m aggregate.Meta, typ string) error {
	setRejection(res, err)
	b.remember(ref, m, res)
	return b.produceResult(res, rec, m.Time, typ)
}

func (b *batch) reject(res *topics.Result, err error, rec *kgo.Record, at time.Time, typ string) error {
	setRejection(res, err)
	return b.produceResult(res, rec, at, typ)
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

func (b *batch) duplicate(res *topics.Result, first *topics.Result, rec *kgo.Record, at time.Time, typ string) error {
	res.Status, res.FirstStatus = topics.StatusDuplicate, first.Status
	res.Code, res.Message, res.Version, res.Events = first.Code, first.Message, first.Version, first.Events
	return b.produceResult(res, rec, at, typ)
}

func (b *batch) produceResult(res *topics.Result, rec *kgo.Record, at time.Time, typ string) error {
	r, err := topics.ResultRecord(res, rec.Key, rec.Partition)
	if err != nil {
		return fmt.Errorf("processor: encode result: %w", err)
	}
	r.Timestamp = at // the command's time: restore dates dedup entries by it
	b.produce(r)
	if len(typ) > 64 || typ == "" {
		typ = "invalid"
	}
	b.outcome[typ+"\x00"+res.Status]++
	return nil
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
				if err := wb.SetDedup(ref.part, ref.key, ref.commandID, e.at, e.outcome); err != nil {
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
		return wb.Commit()
	})
}

// count adds the committed batch to the metrics.
func (b *batch) count() {
	m := b.p.metrics
	for k, n := range b.outcome {
		for i := 0; i < len(k); i++ {
			if k[i] == 0 {
				m.commands.WithLabelValues(k[:i], k[i+1:]).Add(float64(n))
				break
			}
		}
	}
	for typ, n := range b.events {
		m.events.WithLabelValues(typ).Add(float64(n))
	}
}
