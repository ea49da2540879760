// Package kv is what Rewind's Pebble databases share: how one is opened
// and tuned, a read of one value, and a consumer's next offset per
// partition. Each is a cache of Kafka that can be rebuilt from it: the
// processor's store (package store), the query read model and ingest's
// outcome history.
package kv

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrCorrupt reports a value that cannot be decoded: the database was
// written by something else. A cache is rebuilt from Kafka.
var ErrCorrupt = errors.New("kv: corrupt value")

// Options tune a database.
type Options struct {
	// CacheBytes is Pebble's block cache size. The default value is 64 MiB,
	// the processor's.
	CacheBytes int64
	// MemTableBytes is the size of one memtable. The default value is 16 MiB.
	MemTableBytes uint64
	// InMemory keeps everything in memory and nothing on disk: for
	// measuring what durability costs, never for production.
	InMemory bool
}

func (o *Options) setDefaults() {
	o.CacheBytes = cmp.Or(o.CacheBytes, 64<<20)
	o.MemTableBytes = cmp.Or(o.MemTableBytes, 16<<20)
}

// Open opens a Pebble database tuned as Rewind's caches are: the
// block cache and memtable of o, bloom filters, Pebble's informational
// logs dropped. tune, if not nil, adjusts the options first.
func Open(dir string, o Options, tune func(*pebble.Options)) (*pebble.DB, error) {
	o.setDefaults()
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: o.MemTableBytes,
		Logger:       quietLogger{},
	}
	if o.InMemory {
		opts.FS = vfs.NewMem()
	}
	// Most lookups of a new stream miss: bloom filters let a miss skip
	// the tables instead of reading their index blocks.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	if tune != nil {
		tune(opts)
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return db, nil
}

// Get calls use, if not nil, with the value at key, which is valid only
// during the call, and reports whether the key was there. A missing key
// is not an error: every reader of a cache (the processor's store, the
// read model, ingest's history) treats it as "not yet". An error from use
// is returned as it is.
func Get(r pebble.Reader, key []byte, use func(v []byte) error) (found bool, err error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	if use == nil {
		return true, nil
	}
	return true, use(v)
}

// OffsetKey is the key of a consumer's next offset on partition p, under
// prefix: the checkpoints of the read model and of ingest's outcome
// history, each written in the batch that holds what the consumer built
// from the records before it.
func OffsetKey(prefix byte, p int32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefix}, uint32(p))
}

// SetOffset stores next as partition p's offset under prefix.
func SetOffset(w pebble.Writer, prefix byte, p int32, next int64) error {
	return w.Set(OffsetKey(prefix, p), binary.BigEndian.AppendUint64(nil, uint64(next)), nil)
}

// GetOffset reads partition p's offset under prefix: 0 (the start) when
// none is stored, ErrCorrupt when the value is not 8 bytes.
func GetOffset(r pebble.Reader, prefix byte, p int32) (next int64, err error) {
	_, err = Get(r, OffsetKey(prefix, p), func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%w: offset of partition %d is %d bytes, not 8", ErrCorrupt, p, len(v))
		}
		next = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	return next, err
}

// quietLogger drops Pebble's informational logs; errors still reach
// callers as returned errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
