package processor

// streamCache keeps recently committed stream states in memory, so a hot
// stream is neither read from Pebble nor decoded in every batch. Only the
// loop goroutine uses it, so it has no lock.
//
// An entry is valid only under the partition generation it was stored
// with: a revoke, reassignment and restore moves the partition to a new
// generation, which invalidates all of its entries at once without
// touching the cache from the group's callbacks.
type streamCache struct {
	max     int
	entries map[streamRef]cached
}

type cached struct {
	gen     uint64
	version uint64
	state   any // immutable: handlers copy what they change
	stored  bool
}

func newStreamCache(max int) *streamCache {
	return &streamCache{max: max, entries: make(map[streamRef]cached, max)}
}

func (c *streamCache) get(ref streamRef, gen uint64) (cached, bool) {
	e, ok := c.entries[ref]
	if !ok || e.gen != gen {
		return cached{}, false
	}
	return e, true
}

// put stores a committed state. When full it evicts an arbitrary entry:
// map iteration order is random, which is as good as LRU for a cache this
// size and costs nothing to maintain.
func (c *streamCache) put(ref streamRef, e cached) {
	if c.max <= 0 {
		return
	}
	if _, ok := c.entries[ref]; !ok && len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[ref] = e
}
