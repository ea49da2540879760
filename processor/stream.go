package processor

import (
	"fmt"

	"github.com/rewind/rewind/store"
)

// streamRef names a stream on its partition.
type streamRef struct {
	part int32
	key  string // tenant/stream
}

// stream is a stream as the batch (or a restore) sees it.
type stream struct {
	part    int32
	version uint64
	state   any
	// cmds are the commands the stored record remembers; added are those
	// remembered since, and addedAt their places by id once they are
	// many.
	cmds    store.Commands
	added   []store.Command
	addedAt map[string]int
	dirty   bool
	// lookups counts finds in cmds; index replaces the scans of cmds once
	// the stream is looked up often (a hot stream, many commands in one
	// batch).
	lookups int
	index   *store.Index
}

// How many scans of a stream's stored ids, and how many ids added in a
// batch, before they are indexed. Building an index of the stored ids
// costs about three scans of them, and a stream looked up twice in a
// batch is usually a hot one, looked up tens of times.
const (
	scansBeforeIndex = 1
	addedBeforeIndex = 16
)

// find returns the remembered command with the id.
func (st *stream) find(id string) (store.Command, bool) {
	if st.addedAt == nil && len(st.added) > addedBeforeIndex {
		st.addedAt = make(map[string]int, 2*len(st.added))
		for i, a := range st.added {
			st.addedAt[a.ID] = i // the latest of an id wins, as in the scan
		}
	}
	if st.addedAt != nil {
		if i, ok := st.addedAt[id]; ok {
			return st.added[i], true
		}
	} else {
		for i := len(st.added) - 1; i >= 0; i-- {
			if st.added[i].ID == id {
				return st.added[i], true
			}
		}
	}
	if st.index != nil {
		return st.index.Find(id)
	}
	if st.lookups++; st.lookups > scansBeforeIndex {
		st.index = st.cmds.Index()
		return st.index.Find(id)
	}
	return st.cmds.Find(id)
}

// remember adds a command id to the stream's record.
func (st *stream) remember(c store.Command) {
	st.added = append(st.added, c)
	st.dirty = true
	if st.addedAt != nil {
		st.addedAt[c.ID] = len(st.added) - 1
	}
}

// newStream decodes a stored stream record's state.
func (p *Processor) newStream(ref streamRef, rec store.Stream) (*stream, error) {
	s, err := p.cfg.Kind.DecodeState(rec.State)
	if err != nil {
		return nil, fmt.Errorf("processor: stored state of %s on partition %d undecodable: %w", ref.key, ref.part, err)
	}
	return &stream{part: ref.part, version: rec.Version, state: s, cmds: rec.Commands}, nil
}

// decodeStream decodes a stream record as the store and cache hold it.
func (p *Processor) decodeStream(ref streamRef, record []byte) (*stream, error) {
	rec, err := store.DecodeStream(record)
	if err != nil {
		return nil, fmt.Errorf("processor: stored record of %s on partition %d: %w", ref.key, ref.part, err)
	}
	return p.newStream(ref, rec)
}
