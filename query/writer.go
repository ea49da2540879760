package query

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/kv"
	"github.com/rewind/rewind/topics"
)

// writer folds a batch of event records into one Pebble batch. Streams
// touched in the batch stay decoded in memory until the batch commits, so
// a busy stream's state is read and written once per batch, not once per
// event.
type writer struct {
	m       *model
	b       *pebble.Batch
	meta    meta
	streams map[streamID]*live
	offsets map[int32]int64
	applied int
	cache   *streamCache
}

// streamCache keeps the streams of recent batches decoded, so a busy
// stream is not read back and decoded from Pebble at every batch. Only a
// committed batch's streams enter it.
type streamCache struct {
	max     int
	streams map[streamID]*live
}

func newStreamCache(max int) *streamCache {
	return &streamCache{max: max, streams: make(map[streamID]*live)}
}

func (c *streamCache) get(id streamID) *live {
	if c == nil {
		return nil
	}
	return c.streams[id]
}

func (c *streamCache) put(id streamID, l *live) {
	if c == nil {
		return
	}
	if len(c.streams) >= c.max {
		// Evict an arbitrary tenth: map order is random, and an evicted
		// stream only costs one Pebble read when it comes back.
		n := max(1, c.max/10)
		for k := range c.streams {
			if n--; n < 0 {
				break
			}
			delete(c.streams, k)
		}
	}
	c.streams[id] = l
}

func (c *streamCache) forget(id streamID) {
	if c != nil {
		delete(c.streams, id)
	}
}

type streamID struct{ tenant, stream string }

// live is a stream being folded.
type live struct {
	head    head
	state   schedule.State
	indexed *Summary // what the indexes hold before this batch
}

func (m *model) newWriter(cache *streamCache) (*writer, error) {
	mt, err := m.meta(m.db)
	if err != nil {
		return nil, err
	}
	return &writer{m: m, b: m.db.NewBatch(), meta: mt, streams: map[streamID]*live{}, offsets: map[int32]int64{},
		cache: cache}, nil
}

// advance records that partition p has been read up to offset next.
func (w *writer) advance(p int32, next int64) { w.offsets[p] = next }

// empty reports whether the batch holds nothing to commit.
func (w *writer) empty() bool { return len(w.offsets) == 0 }

func (w *writer) load(id streamID) (*live, error) {
	if l, ok := w.streams[id]; ok {
		return l, nil
	}
	if l := w.cache.get(id); l != nil {
		w.streams[id] = l
		return l, nil
	}
	l := &live{state: w.m.def.Seed()}
	h, found, err := w.m.head(w.m.db, id.tenant, id.stream)
	if err != nil {
		return nil, err
	}
	if found {
		l.head, l.indexed = h, h.Indexed
		raw, err := w.m.currentState(w.m.db, id.tenant, id.stream)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &l.state); err != nil {
			return nil, fmt.Errorf("%w: state of %s/%s: %w", errCorrupt, id.tenant, id.stream, err)
		}
	}
	w.streams[id] = l
	return l, nil
}

// apply folds one event. An event at or below the stream's version was
// folded already (it cannot be, with checkpoints in the same batch, but a
// model must not double-count if it ever is).
func (w *writer) apply(e *topics.Event) error {
	id := streamID{e.Tenant, e.Stream}
	l, err := w.load(id)
	if err != nil {
		return err
	}
	if e.Version <= l.head.Version {
		return nil
	}
	se := storedEvent{Type: e.Type, Time: e.Time, Initiator: e.Initiator, ProcessID: e.ProcessID,
		PredecessorID: e.PredecessorID, Schema: e.Schema, Data: e.Raw}
	if !json.Valid(se.Data) {
		// Kept as a JSON string so the audit log still shows the fact.
		se.Data = mustJSON(string(e.Raw))
	}
	if err := w.b.Set(versionKey(prefixEvent, id.tenant, id.stream, e.Version), se.encode(), nil); err != nil {
		return err
	}
	if err := w.fold(id, l, e.Version, &se); err != nil {
		return err
	}
	// The visitor is the stream's once this event is folded: a
	// reservation's own entry names the visitor it reserved for.
	return w.indexActivity(id.tenant, &Activity{Time: se.Time, Initiator: se.Initiator, Type: se.Type,
		ScheduleID: id.stream, VisitorID: l.state.VisitorID, Version: e.Version, ProcessID: se.ProcessID})
}

// fold applies a stored event to a live stream and writes the per-event
// keys derived from it: the instant and, every snapshotEvery events, a
// snapshot.
func (w *writer) fold(id streamID, l *live, v uint64, se *storedEvent) error {
	env := w.m.envelope(id.tenant, id.stream, v, se)
	l.state = w.m.def.Apply(l.state, &env)
	l.head.Version = v
	if se.Time.After(l.head.MaxTime) || l.head.MaxTime.IsZero() {
		l.head.MaxTime = se.Time
	}
	if err := w.b.Set(instantKey(id.tenant, id.stream, l.head.MaxTime, v), nil, nil); err != nil {
		return err
	}
	l.head.Since++
	if l.head.Since >= w.m.snapshotEvery {
		snap, err := encodeSnapshot(&l.state)
		if err != nil {
			return err
		}
		if err := w.b.Set(versionKey(prefixSnapshot, id.tenant, id.stream, v), snap, nil); err != nil {
			return err
		}
		l.head.Snap, l.head.Since = v, 0
	}
	w.applied++
	return nil
}

// commit writes the touched streams' heads and index entries, the
// checkpoints and the meta, atomically. Nothing is synced: the model is a
// cache, and a lost tail is folded again from the last checkpoint that
// made it to disk, because it is in the same batch.
func (w *writer) commit() error {
	defer w.b.Close()
	for id, l := range w.streams {
		if err := w.writeHead(id, l); err != nil {
			return err
		}
	}
	for p, next := range w.offsets {
		if err := kv.SetOffset(w.b, prefixCheckpoint, p, next); err != nil {
			return err
		}
	}
	if err := w.b.Set(metaKey, mustJSON(w.meta), nil); err != nil {
		return err
	}
	if err := w.b.Commit(pebble.NoSync); err != nil {
		// The cached streams were changed in place: they are not what
		// the store holds now.
		for id := range w.streams {
			w.cache.forget(id)
		}
		return fmt.Errorf("query: commit: %w", err)
	}
	for id, l := range w.streams {
		w.cache.put(id, l)
	}
	return nil
}

func (w *writer) writeHead(id streamID, l *live) error {
	x := summarize(id.stream, &l.state, l.head.Version)
	if err := w.reindex(id, l.indexed, x); err != nil {
		return err
	}
	state, err := l.state.AppendJSON(nil)
	if err != nil {
		return err
	}
	l.head.Indexed, l.indexed = x, x
	if err := w.b.Set(stateKey(id.tenant, id.stream), state, nil); err != nil {
		return err
	}
	return w.b.Set(headKey(id.tenant, id.stream), mustJSON(l.head), nil)
}

// reindex moves a stream's index entries from old to cur (either may be nil).
func (w *writer) reindex(id streamID, old, cur *Summary) error {
	if old != nil {
		if !old.Start.IsZero() {
			if err := w.b.Delete(rangeKey(id.tenant, old.Start, id.stream), nil); err != nil {
				return err
			}
		}
		if old.VisitorID != "" {
			if err := w.b.Delete(visitorKey(id.tenant, old.VisitorID, old.Start, id.stream), nil); err != nil {
				return err
			}
		}
	}
	if cur == nil {
		return nil
	}
	val := mustJSON(cur)
	if !cur.Start.IsZero() {
		if err := w.b.Set(rangeKey(id.tenant, cur.Start, id.stream), val, nil); err != nil {
			return err
		}
		if span := cur.End.Sub(cur.Start); span > w.meta.MaxSpan {
			w.meta.MaxSpan = span
		}
	}
	if cur.VisitorID != "" {
		return w.b.Set(visitorKey(id.tenant, cur.VisitorID, cur.Start, id.stream), val, nil)
	}
	return nil
}

// erase removes one event (a tombstone on its key: erasure on purpose)
// and refolds the stream from its remaining events, since every snapshot,
// instant and the state after it may have changed. It must run in a batch
// of its own, after the events before it have committed, because it reads
// the stream back from the store.
func (w *writer) erase(tenant, stream string, v uint64) error {
	id := streamID{tenant, stream}
	w.cache.forget(id) // refolded from the store below
	old, found, err := w.m.head(w.m.db, tenant, stream)
	if err != nil || !found {
		return err
	}
	if erased, found, err := w.m.storedEvent(w.m.db, tenant, stream, v); err != nil {
		return err
	} else if found {
		if err := w.unindexActivity(tenant, stream, erased.Time, v); err != nil {
			return err
		}
	}
	if err := w.b.Delete(versionKey(prefixEvent, tenant, stream, v), nil); err != nil {
		return err
	}
	for _, p := range []byte{prefixSnapshot, prefixInstant} {
		pre := streamPrefix(p, tenant, stream)
		if err := w.b.DeleteRange(pre, prefixEnd(pre), nil); err != nil {
			return err
		}
	}
	l := &live{state: w.m.def.Seed(), indexed: old.Indexed}
	l.head.Erasures = old.Erasures + 1
	w.streams[id] = l
	pre := streamPrefix(prefixEvent, tenant, stream)
	it, err := w.m.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: prefixEnd(pre)})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		ev := binary.BigEndian.Uint64(it.Key()[len(pre):])
		if ev == v {
			continue
		}
		var se storedEvent
		if err := decodeStoredEvent(it.Value(), &se); err != nil {
			return err
		}
		if err := w.fold(id, l, ev, &se); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if l.head.Version == 0 {
		// Nothing left: the stream is gone from every index.
		delete(w.streams, id)
		if err := w.reindex(id, old.Indexed, nil); err != nil {
			return err
		}
		if err := w.b.Delete(stateKey(tenant, stream), nil); err != nil {
			return err
		}
		return w.b.Delete(headKey(tenant, stream), nil)
	}
	return nil
}
