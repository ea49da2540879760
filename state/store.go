package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrCorrupt reports a value that cannot be decoded: the store was written
// by something else. Wipe the partition and rebuild.
var ErrCorrupt = errors.New("state: corrupt value")

// Layout is the version of the key and value layout. A store of another
// layout is wiped when opened, so its partitions are rebuilt from Kafka
// instead of misread. Layout 2 keeps a stream's command ids in its record.
const Layout = 2

// Options tune the store.
type Options struct {
	// CacheBytes is Pebble's block cache size. The default value is 128 MiB.
	CacheBytes int64
	// MemTableBytes is the size of one memtable. The default value is 16 MiB.
	MemTableBytes uint64
	// InMemory keeps everything in memory and nothing on disk: for
	// measuring what durability costs, never for production.
	InMemory bool
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

// Open opens (creating if needed) the store in dir. A store of another
// [Layout] is emptied.
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
	s := &Store{db: db}
	if err := s.checkLayout(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkLayout empties a store written with another layout (or none: the
// first layout had no marker) and records the current one.
func (s *Store) checkLayout() error {
	v, found, err := s.get(layoutKey)
	if err != nil {
		return err
	}
	want := binary.AppendUvarint(nil, Layout)
	if found && bytes.Equal(v, want) {
		return nil
	}
	if err := s.db.DeleteRange([]byte{'p'}, []byte{'q'}, pebble.NoSync); err != nil {
		return fmt.Errorf("state: wipe old layout: %w", err)
	}
	if err := s.db.Set(layoutKey, want, pebble.Sync); err != nil {
		return fmt.Errorf("state: set layout: %w", err)
	}
	return nil
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
	// Results is the next schedule-results offset to fold into the
	// remembered command ids.
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

// Stream returns a stream's record. found is false for a stream the store
// does not know.
func (s *Store) Stream(p int32, stream string) (rec Stream, found bool, err error) {
	v, found, err := s.get(streamKey(p, stream))
	if err != nil || !found {
		return Stream{}, false, err
	}
	rec, err = DecodeStream(v)
	return rec, err == nil, err
}

// Ref names a stream of a partition.
type Ref struct {
	Partition int32
	Stream    string
}

// Streams reads the records of many streams at once, visiting their keys
// in order (neighbouring keys share blocks, and each step goes forward),
// and calls found with the index in refs of each stream it knows and its
// encoded record (decode it with [DecodeStream]; it is a copy the callee
// may keep).
func (s *Store) Streams(refs []Ref, found func(i int, record []byte) error) error {
	type keyed struct {
		key []byte
		i   int
	}
	keys := make([]keyed, len(refs))
	for i, r := range refs {
		keys[i] = keyed{streamKey(r.Partition, r.Stream), i}
	}
	slices.SortFunc(keys, func(a, b keyed) int { return bytes.Compare(a.key, b.key) })
	for _, k := range keys {
		v, ok, err := s.get(k.key)
		if err != nil {
			return err
		}
		if ok {
			if err := found(k.i, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Outcome returns the first outcome recorded for a command id of a
// stream: read only when a command turns out to be a duplicate.
func (s *Store) Outcome(p int32, stream, commandID string) (outcome []byte, found bool, err error) {
	v, found, err := s.get(outcomeKey(p, stream, commandID))
	if err != nil || !found {
		return nil, false, err
	}
	if len(v) < 8 {
		return nil, false, fmt.Errorf("%w: outcome of %q", ErrCorrupt, commandID)
	}
	return v[8:], true, nil
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
	out := bytes.Clone(v)
	return out, true, closer.Close()
}

// WipePartition removes everything of partition p: stream records,
// outcomes and the checkpoint. It is one range tombstone, cheap at any
// size.
func (s *Store) WipePartition(p int32) error {
	if err := s.db.DeleteRange(partitionPrefix(p), partitionPrefix(p+1), pebble.NoSync); err != nil {
		return fmt.Errorf("state: wipe partition %d: %w", p, err)
	}
	return nil
}

// ExpireOutcomes deletes the outcomes of partition p recorded before
// cutoff and returns how many it deleted. Outcomes of streams that are
// written again go with their ids (see [Commands.Keep]); this sweep finds
// those of streams that went quiet.
func (s *Store) ExpireOutcomes(p int32, cutoff time.Time) (int, error) {
	lower := append(partitionPrefix(p), kindOutcome)
	upper := append(partitionPrefix(p), kindOutcome+1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, fmt.Errorf("state: expire outcomes: %w", err)
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
		return 0, fmt.Errorf("state: expire outcomes: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("state: expire outcomes: %w", err)
	}
	return n, nil
}

// NewBatch starts a write batch. Nothing is visible until Commit; the
// caller MUST call Close. sizeHint, when known, is the bytes it will hold:
// growing a large batch by doubling copies it again and again.
func (s *Store) NewBatch(sizeHint int) *Batch {
	if sizeHint > 0 {
		return &Batch{b: s.db.NewBatchWithSize(sizeHint)}
	}
	return &Batch{b: s.db.NewBatch()}
}

// Batch collects stream records, outcomes and checkpoints that must land
// together.
type Batch struct {
	b   *pebble.Batch
	buf []byte
}

// SetStream records a stream's record, encoded by [EncodeStream]. The
// record is copied.
func (b *Batch) SetStream(p int32, stream string, record []byte) error {
	return b.b.Set(streamKey(p, stream), record, nil)
}

// SetOutcome records the first outcome of a command id, and when it was
// recorded.
func (b *Batch) SetOutcome(p int32, stream, commandID string, at time.Time, outcome []byte) error {
	b.buf = binary.BigEndian.AppendUint64(b.buf[:0], uint64(at.UnixNano()))
	b.buf = append(b.buf, outcome...)
	return b.b.Set(outcomeKey(p, stream, commandID), b.buf, nil)
}

// DeleteOutcome forgets the outcome of a command id.
func (b *Batch) DeleteOutcome(p int32, stream, commandID string) error {
	return b.b.Delete(outcomeKey(p, stream, commandID), nil)
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
