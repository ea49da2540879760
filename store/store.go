package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"

	"github.com/rewind/rewind/kv"
)

// ErrCorrupt reports a value that cannot be decoded: the store was written
// by something else. Wipe the partition and rebuild.
var ErrCorrupt = errors.New("state: corrupt value")

// Layout is the version of the key and value layout. A store of another
// layout is wiped when opened, so its partitions are rebuilt from Kafka
// instead of misread. Layout 2 kept a stream's command ids in its record;
// layout 3 keeps their outcomes there too, and the state topic's offset
// in the checkpoint.
const Layout = 3

// Store is the Pebble-backed state of one processor instance. It is safe
// for concurrent use; the caller MUST call Close.
type Store struct {
	db *pebble.DB
}

// Open opens (creating if needed) the store in dir. A store of another
// [Layout] is emptied.
func Open(dir string, o kv.Options) (*Store, error) {
	db, err := kv.Open(dir, o, func(opts *pebble.Options) {
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

// Close flushes nothing (writes are unsynced by design) and closes the DB.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state: close: %w", err)
	}
	return nil
}

// Checkpoint is how far a partition's state has caught up with Kafka.
type Checkpoint struct {
	// Events is the next schedule-events offset to fold.
	Events int64
	// Results is the next schedule-results offset to fold into the
	// remembered command ids.
	Results int64
	// State is the next offset of the state topic's partition to apply.
	State int64
	// Logic is the logic version that built the partition's state.
	Logic int64
	// Synced is set when the state topic holds every stream of the
	// partition under Logic, and the store mirrors it up to State: a
	// restore then reads only the state topic from State on. Unset, the
	// store is a fold of the events and results up to Events and
	// Results, which the state topic does not (yet) mirror.
	Synced bool
}

const checkpointLen = 33

func (c Checkpoint) encode() []byte {
	b := make([]byte, checkpointLen)
	binary.BigEndian.PutUint64(b[0:], uint64(c.Events))
	binary.BigEndian.PutUint64(b[8:], uint64(c.Results))
	binary.BigEndian.PutUint64(b[16:], uint64(c.State))
	binary.BigEndian.PutUint64(b[24:], uint64(c.Logic))
	if c.Synced {
		b[32] = 1
	}
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
	cp.State = int64(binary.BigEndian.Uint64(v[16:]))
	cp.Logic = int64(binary.BigEndian.Uint64(v[24:]))
	cp.Synced = v[32] == 1
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

// get returns a copy of the value at key.
func (s *Store) get(key []byte) (out []byte, found bool, err error) {
	found, err = kv.Get(s.db, key, func(v []byte) error {
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("state: get: %w", err)
	}
	return out, found, nil
}

// PartitionStreams calls fn with up to limit stream records of partition
// p, in key order, starting after the stream named after ("" for the
// first), and returns the last stream visited ("" when none). The record
// is only valid during the call.
func (s *Store) PartitionStreams(p int32, after string, limit int, fn func(stream string, record []byte) error) (last string, err error) {
	lower := streamKey(p, after)
	if after != "" {
		lower = append(lower, 0) // the next key after it
	}
	upper := append(partitionPrefix(p), kindStream+1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return "", fmt.Errorf("state: iterate partition %d: %w", p, err)
	}
	prefix := len(partitionPrefix(p)) + 1
	n := 0
	for it.First(); it.Valid() && n < limit; it.Next() {
		last = string(it.Key()[prefix:])
		if err := fn(last, it.Value()); err != nil {
			it.Close()
			return "", err
		}
		n++
	}
	if n < limit {
		last = ""
	}
	if err := it.Close(); err != nil {
		return "", fmt.Errorf("state: iterate partition %d: %w", p, err)
	}
	return last, nil
}

// WipePartition removes everything of partition p: stream records and the
// checkpoint. It is one range tombstone, cheap at any
// size.
func (s *Store) WipePartition(p int32) error {
	if err := s.db.DeleteRange(partitionPrefix(p), partitionPrefix(p+1), pebble.NoSync); err != nil {
		return fmt.Errorf("state: wipe partition %d: %w", p, err)
	}
	return nil
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

// Batch collects stream records and checkpoints that must land together.
type Batch struct {
	b *pebble.Batch
}

// Len is the batch's size in bytes.
func (b *Batch) Len() int { return b.b.Len() }

// SetStream records a stream's record, encoded by [EncodeStream]. The
// record is copied.
func (b *Batch) SetStream(p int32, stream string, record []byte) error {
	return b.b.Set(streamKey(p, stream), record, nil)
}

// DeleteStream forgets a stream: its record was erased on the state
// topic.
func (b *Batch) DeleteStream(p int32, stream string) error {
	return b.b.Delete(streamKey(p, stream), nil)
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
