package processor

import (
	"github.com/maypok86/otter/v2"
)

// streamCache keeps recently used stream records in memory, so a hot
// stream is not read from Pebble in every batch. It holds records encoded,
// as the store does: the cache is sized in bytes exactly, and millions of
// pointer-free byte slices cost the garbage collector nothing to mark,
// where decoded states (strings, lists) cost it a tenth of the CPU.
//
// Its policy is W-TinyLFU (otter): admission by frequency, so a pass over
// more streams than fit, such as a day's schedules each getting one
// command in turn, does not flush the streams that are used again and
// again, as it would from an LRU.
//
// An entry is valid only under the partition generation it was stored
// with: a revoke, reassignment and restore moves the partition to a new
// generation, which invalidates all of its entries at once without
// touching the cache from the group's callbacks.
type streamCache struct {
	c *otter.Cache[streamRef, cached]
}

type cached struct {
	gen    uint64
	record []byte // store.EncodeStream, checked or encoded here; never modified
}

// entryOverhead approximates what the cache spends per entry besides the
// record: the key's string, the node and the policy's bookkeeping.
const entryOverhead = 160

// newStreamCache returns a cache of at most maxBytes; 0 or less disables
// it.
func newStreamCache(maxBytes int64) *streamCache {
	if maxBytes <= 0 {
		return &streamCache{}
	}
	c := otter.Must(&otter.Options[streamRef, cached]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(k streamRef, v cached) uint32 {
			return uint32(min(len(k.key)+len(v.record)+entryOverhead, 1<<31))
		},
	})
	return &streamCache{c: c}
}

func (c *streamCache) get(ref streamRef, gen uint64) ([]byte, bool) {
	if c.c == nil {
		return nil, false
	}
	e, ok := c.c.GetIfPresent(ref)
	if !ok || e.gen != gen {
		return nil, false
	}
	return e.record, true
}

// put stores a committed record. The cache keeps it: the caller must not
// modify it afterwards.
func (c *streamCache) put(ref streamRef, gen uint64, record []byte) {
	if c.c != nil {
		c.c.Set(ref, cached{gen: gen, record: record})
	}
}

// bytes is the weight the cache holds now.
func (c *streamCache) bytes() uint64 {
	if c.c == nil {
		return 0
	}
	return c.c.WeightedSize()
}
