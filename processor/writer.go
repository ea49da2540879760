package processor

import (
	"fmt"

	"github.com/rewind/rewind/store"
)

// encodeRecord returns a stream's record as the store and the state topic
// hold it, its remembered ids cut to the dedup window.
func (p *Processor) encodeRecord(ref streamRef, st *stream, buf []byte) ([]byte, []byte, error) {
	buf, err := p.cfg.Kind.AppendState(buf[:0], st.state)
	if err != nil {
		return nil, buf, fmt.Errorf("processor: encode state of %s: %w", ref.key, err)
	}
	cmds := st.cmds
	if len(st.added) > 0 {
		// The window is measured from the stream's newest command, as
		// the lookup measures it from the command at hand.
		newest := st.added[0].At
		for _, c := range st.added[1:] {
			newest = max(newest, c.At)
		}
		cmds = cmds.Keep(newest - p.cfg.DedupWindow.Nanoseconds())
	}
	logic := uint64(p.cfg.Kind.LogicVersion())
	return store.EncodeStream(store.Stream{Logic: logic, Version: st.version, State: buf, Commands: cmds}, st.added...), buf, nil
}

// record is an encoded stream record waiting to be written.
type record struct {
	ref   streamRef
	bytes []byte
}

// writer turns records and checkpoints into one Pebble batch. The loop
// and restore both write through it.
type writer struct {
	p      *Processor
	wb     *store.Batch
	cached []pendingCache
}

// pendingCache is a record to cache once its batch is committed.
type pendingCache struct {
	ref    streamRef
	gen    uint64
	record []byte
}

// recordBytes approximates a stream record in a batch.
const recordBytes = 400

// newWriter starts a writer of about sizeHint bytes (0: unknown).
func (p *Processor) newWriter(sizeHint int) *writer {
	return &writer{p: p, wb: p.store.NewBatch(sizeHint)}
}

// set writes a stream's record. gen is the partition generation to cache
// the record under; 0 does not cache it.
func (w *writer) set(r record, gen uint64) error {
	if err := w.wb.SetStream(r.ref.part, r.ref.key, r.bytes); err != nil {
		return err
	}
	if gen != 0 {
		w.cached = append(w.cached, pendingCache{r.ref, gen, r.bytes})
	}
	return nil
}

// commit applies the batch, then caches its records.
func (w *writer) commit() error {
	if err := w.wb.Commit(); err != nil {
		return err
	}
	for _, c := range w.cached {
		w.p.cache.put(c.ref, c.gen, c.record)
	}
	return nil
}

func (w *writer) close() { w.wb.Close() }
