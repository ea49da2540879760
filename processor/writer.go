package processor

import (
	"errors"
	"fmt"

	"github.com/rewind/rewind/state"
)

// writer turns an overlay into one Pebble batch: stream records, with
// their remembered ids cut to the dedup window, the first outcomes, and
// checkpoints. The loop and restore both write through it.
type writer struct {
	p      *Processor
	wb     *state.Batch
	buf    []byte
	cached []pendingCache
}

// pendingCache is a record to cache once its batch is committed.
type pendingCache struct {
	ref    streamRef
	gen    uint64
	record []byte
}

// recordBytes approximates a stream record or an outcome in a batch.
const recordBytes = 300

func (p *Processor) newWriter(streams, outcomes int) *writer {
	return &writer{p: p, wb: p.store.NewBatch(recordBytes * (streams + outcomes))}
}

// setStream writes the stream's record. gen is the partition generation
// to cache the record under; 0 does not cache it.
func (w *writer) setStream(ref streamRef, st *stream, gen uint64) error {
	var err error
	w.buf, err = w.p.cfg.Kind.AppendState(w.buf[:0], st.state)
	if err != nil {
		return fmt.Errorf("processor: encode state of %s: %w", ref.key, err)
	}
	cmds := st.cmds
	if len(st.added) > 0 {
		// The window is measured from the stream's newest command, as
		// the lookup measures it from the command at hand.
		newest := st.added[0].At
		for _, c := range st.added[1:] {
			newest = max(newest, c.At)
		}
		cutoff := newest - w.p.cfg.DedupWindow.Nanoseconds()
		cmds = cmds.Keep(cutoff, func(id string) {
			err = errors.Join(err, w.wb.DeleteOutcome(ref.part, ref.key, id))
		})
		if err != nil {
			return err
		}
		cmds = cmds.Append(st.added...)
	}
	record := state.EncodeStream(state.Stream{Version: st.version, State: w.buf, Commands: cmds})
	if err := w.wb.SetStream(ref.part, ref.key, record); err != nil {
		return err
	}
	if gen != 0 {
		w.cached = append(w.cached, pendingCache{ref, gen, record})
	}
	return nil
}

func (w *writer) setOutcome(ref dedupRef, e dedupEntry) error {
	return w.wb.SetOutcome(ref.part, ref.key, ref.commandID, e.at, e.result)
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
