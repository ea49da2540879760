package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Options tune the store.
type Options struct {
	// CacheBytes is Pebble's block cache size. The default value is 128 MiB.
	CacheBytes int64
	// MemTableBytes is the size of one memtable. The default value is 16 MiB.
	MemTableBytes uint64
}

func (o *Options) setDefaults() {
	if o.CacheBytes == 0 {
		o.CacheBytes = 128 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 16 << 20
	}
}

// Store is the Pebble-backed state of one processor instance. It is safe
// for concurrent use; the caller MUST call Close.
type Store struct {
	db *pebble.DB
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, o Options) (*Store, error) {
	db, err := OpenPebble(dir, o, func(opts *pebble.Options) {
		for i := range opts.Levels {
			// Every lookup opens the index blocks of the tables it may
			// hit; with a write-heavy, short-lived table set,
			// decompressing them was a tenth of the processor's CPU.
			// Space is cheap here.
			opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		}
	})
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return &Store{db: db}, nil
}

// OpenPebble opens a Pebble database tuned as Rewind's caches are: the
// block cache and memtable of o, bloom filters, Pebble's informational
// logs dropped. tune, if not nil, adjusts the options first. The query
// read model uses it too.
func OpenPebble(dir string, o Options, tune func(*pebble.Options)) (*pebble.DB, error) {
	o.setDefaults()
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: o.MemTableBytes,
		Logger:       quietLogger{},
	}
	// Most lookups of a new stream or command id miss: bloom filters let
	// a miss skip the tables instead of reading their index blocks.
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

// Close flushes nothing (writes are unsynced by design) and closes the DB.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state: close: %w", err)
	}
	return nil
}

// Checkpoint is how far a partition's state has folded each topic.
type Checkpoint struct {
	// Events is the next schedule-events offset to fold.
	Events int64
	// Results is the next schedule-results offset to fold into the dedup
	// index.
	Results int64
	// Logic is the logic version that built the partition's state.
	Logic int64
}

const checkpointLen = 24

func (c Checkpoint) encode() []byte {
	b := make([]byte, checkpointLen)
	binary.BigEndian.PutUint64(b[0:], uint64(c.Events))
	binary.BigEndian.PutUint64(b[8:], uint64(c.Results))
	binary.BigEndian.PutUint64(b[16:], uint64(c.Logic))
	return b
}

// Checkpoint returns the partition's checkpoint; ok is false when the
// partition has none (never folded, or wiped).
func (s *Store) Checkpoint(p int32) (cp Checkpoint, ok bool, err error) {
	v, found, err := s.get(checkpointKey(p))
	if err != nil || !found {
		return cp, false, err
	}
	if len(v) != checkpointLen {
		return cp, false, fmt.Errorf("%w: checkpoint of partition %d", ErrCorrupt, p)
	}
	cp.Events = int64(binary.BigEndian.Uint64(v[0:]))
	cp.Results = int64(binary.BigEndian.Uint64(v[8:]))
	cp.Logic = int64(binary.BigEndian.Uint64(v[16:]))
	return cp, true, nil
}

// Stream returns a stream's version and encoded state. found is false for
// a stream with no events.
func (s *Store) Stream(p int32, stream string) (version uint64, data []byte, found bool, err error) {
	v, found, err := s.get(streamKey(p, stream))
	if err != nil || !found {
		return 0, nil, false, err
	}
	version, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, nil, false, fmt.Errorf("%w: stream %q", ErrCorrupt, stream)
	}
	return version, v[n:], true, nil
}

// Dedup returns the first outcome recorded for a command id on a stream,
// and when it was recorded.
func (s *Store) Dedup(p int32, stream, commandID string) (outcome []byte, at time.Time, found bool, err error) {
	v, found, err := s.get(dedupKey(p, stream, commandID))
	if err != nil || !found {
		return nil, time.Time{}, false, err
	}
	if len(v) < 8 {
		return nil, time.Time{}, false, fmt.Errorf("%w: dedup entry", ErrCorrupt)
	}
	return v[8:], time.Unix(0, int64(binary.BigEndian.Uint64(v))), true, nil
}

// get returns a copy of the value at key.
func (s *Store) get(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: get: %w", err)
	}
	out := append([]byte(nil), v...)
	return out, true, closer.Close()
}

// WipePartition removes everything of partition p: states, dedup entries
// and the checkpoint. It is one range tombstone, cheap at any size.
func (s *Store) WipePartition(p int32) error {
	if err := s.db.DeleteRange(partitionPrefix(p), partitionPrefix(p+1), pebble.NoSync); err != nil {
		return fmt.Errorf("state: wipe partition %d: %w", p, err)
	}
	return nil
}

// ExpireDedup deletes the dedup entries of partition p recorded before
// cutoff and returns how many it deleted.
func (s *Store) ExpireDedup(p int32, cutoff time.Time) (int, error) {
	lower := append(partitionPrefix(p), kindDedup)
	upper := append(partitionPrefix(p), kindDedup+1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, fmt.Errorf("state: expire dedup: %w", err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if len(v) >= 8 && int64(binary.BigEndian.Uint64(v)) < cutoff.UnixNano() {
			if err := b.Delete(it.Key(), nil); err != nil {
				it.Close()
				return 0, err
			}
			n++
		}
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("state: expire dedup: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("state: expire dedup: %w", err)
	}
	return n, nil
}

// NewBatch starts a write batch. Nothing is visible until Commit; the
// caller MUST call Close. sizeHint, when known, is the bytes it will hold:
// growing a large batch by doubling copies it again and again.
func (s *Store) NewBatch(sizeHint ...int) *Batch {
	if len(sizeHint) > 0 && sizeHint[0] > 0 {
		return &Batch{b: s.db.NewBatchWithSize(sizeHint[0])}
	}
	return &Batch{b: s.db.NewBatch()}
}

// Batch collects states, dedup entries and checkpoints that must land
// together.
type Batch struct {
	b *pebble.Batch
}

// SetStream records a stream's version and encoded state.
func (b *Batch) SetStream(p int32, stream string, version uint64, data []byte) error {
	v := make([]byte, 0, binary.MaxVarintLen64+len(data))
	v = binary.AppendUvarint(v, version)
	v = append(v, data...)
	return b.b.Set(streamKey(p, stream), v, nil)
}

// SetDedup records the first outcome of a command id.
func (b *Batch) SetDedup(p int32, stream, commandID string, at time.Time, outcome []byte) error {
	v := make([]byte, 8, 8+len(outcome))
	binary.BigEndian.PutUint64(v, uint64(at.UnixNano()))
	return b.b.Set(dedupKey(p, stream, commandID), append(v, outcome...), nil)
}

// SetCheckpoint records how far partition p has folded.
func (b *Batch) SetCheckpoint(p int32, cp Checkpoint) error {
	return b.b.Set(checkpointKey(p), cp.encode(), nil)
}

// Empty reports whether nothing was set.
func (b *Batch) Empty() bool { return b.b.Empty() }

// Commit applies the batch atomically, without fsync.
func (b *Batch) Commit() error {
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	return nil
}

// Close releases the batch.
func (b *Batch) Close() error { return b.b.Close() }

// quietLogger drops Pebble's informational logs; errors still reach
// callers as returned errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
