package ingest

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/internal/logread"
	"github.com/rewind/rewind/kv"
	"github.com/rewind/rewind/topics"
)

// history is every outcome still on schedule-results, by tenant and
// command id, in Pebble: what GET /v1/commands/{id} answers from when the
// outcome is older than the Waiter's recent ones, or older than this
// instance. Every instance keeps its own, so any of them answers. It is a
// cache of the topic: a lost directory is read again from the topic.
//
// Keys:
//
//	o <tenant> 0 <command id>      the outcome: record time (8 bytes) and the result's JSON
//	t <time:8> <tenant> 0 <id>     expiry: the outcomes by record time
//	c <partition:4>                offsets below this are all indexed
type history struct {
	db        *pebble.DB
	retention time.Duration
	log       *slog.Logger
	// loaded is set once every partition is indexed up to where the live
	// consumer started; before, an unknown id may be an outcome still to
	// be read.
	loaded atomic.Bool
	left   atomic.Int64 // records still to backfill
}

const (
	histOutcome    = 'o'
	histExpiry     = 't'
	histCheckpoint = 'c'
)

func openHistory(dir string, retention time.Duration, log *slog.Logger) (*history, error) {
	db, err := kv.Open(dir, kv.Options{CacheBytes: 16 << 20, MemTableBytes: 8 << 20, InMemory: dir == ""}, nil)
	if err != nil {
		return nil, fmt.Errorf("ingest: outcome history: %w", err)
	}
	return &history{db: db, retention: retention, log: log}, nil
}

func (h *history) close() error { return h.db.Close() }

func outcomeKey(k string) []byte { return append([]byte{histOutcome}, k...) }

func expiryKey(at int64, k string) []byte {
	return append(binary.BigEndian.AppendUint64([]byte{histExpiry}, uint64(at)), k...)
}

// get returns the outcome of (tenant, command id), if indexed.
func (h *history) get(k string) (topics.Result, bool, error) {
	var res topics.Result
	found, err := kv.Get(h.db, outcomeKey(k), func(v []byte) (err error) {
		if len(v) < 8 {
			return fmt.Errorf("ingest: outcome history: short value")
		}
		res, err = topics.DecodeResult(v[8:])
		return err
	})
	return res, found && err == nil, err
}

// put indexes a result in b unless the key holds the command's own
// outcome already (a retry's duplicate never replaces it). pending holds
// what b set so far, which b cannot be read for.
func (h *history) put(b *pebble.Batch, pending map[string]topics.Result, res topics.Result, at time.Time) error {
	k := key(res.TenantID, res.CommandID)
	old, ok := pending[k]
	if !ok {
		var err error
		if old, ok, err = h.get(k); err != nil {
			return err
		}
	}
	if ok && (old.Own() || !res.Own()) {
		return nil
	}
	pending[k] = res
	ts := at.UnixNano()
	v := binary.BigEndian.AppendUint64(nil, uint64(ts))
	if err := b.Set(outcomeKey(k), res.AppendJSON(v), nil); err != nil {
		return err
	}
	return b.Set(expiryKey(ts, k), nil, nil)
}

func (h *history) setCheckpoint(b *pebble.Batch, p int32, next int64) error {
	return kv.SetOffset(b, histCheckpoint, p, next)
}

func (h *history) checkpoint(p int32) (int64, error) {
	next, err := kv.GetOffset(h.db, histCheckpoint, p)
	if err != nil {
		return 0, fmt.Errorf("ingest: outcome history: %w", err)
	}
	return next, nil
}

// sweep deletes the outcomes recorded before now-retention: what the
// topic's retention has deleted too.
func (h *history) sweep(now time.Time) (int, error) {
	cutoff := now.Add(-h.retention).UnixNano()
	it, err := h.db.NewIter(&pebble.IterOptions{LowerBound: []byte{histExpiry},
		UpperBound: binary.BigEndian.AppendUint64([]byte{histExpiry}, uint64(max(cutoff, 0)))})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	b := h.db.NewBatch()
	defer b.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		exp := it.Key()
		ts, k := binary.BigEndian.Uint64(exp[1:9]), string(exp[9:])
		if err := b.Delete(exp, nil); err != nil {
			return n, err
		}
		// The id may have been used again since (after its dedup
		// window): only the outcome of this time goes.
		if v, closer, err := h.db.Get(outcomeKey(k)); err == nil {
			same := len(v) >= 8 && binary.BigEndian.Uint64(v) == ts
			closer.Close()
			if same {
				if err := b.Delete(outcomeKey(k), nil); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	if err := it.Error(); err != nil {
		return n, err
	}
	return n, b.Commit(pebble.NoSync)
}

// backfill indexes each partition from its checkpoint (or log start) up
// to where the live consumer started, then marks the history loaded. The
// live consumer moves the checkpoints on from there.
func (h *history) backfill(ctx context.Context, opts []kgo.Opt, liveStart map[int32]int64) error {
	adm, err := kadm.NewOptClient(opts...)
	if err != nil {
		return err
	}
	starts, err := adm.ListStartOffsets(ctx, topics.Results)
	adm.Close()
	if err != nil {
		return fmt.Errorf("ingest: results start offsets: %w", err)
	}
	from := map[int32]int64{}
	left := int64(0)
	for p, end := range liveStart {
		at, err := h.checkpoint(p)
		if err != nil {
			return err
		}
		if s, ok := starts.Lookup(topics.Results, p); ok && s.Offset > at {
			at = s.Offset
		}
		if at < end {
			from[p] = at
			left += end - at
		}
	}
	h.left.Store(left)
	if len(from) > 0 {
		if err := h.read(ctx, opts, from, liveStart); err != nil {
			return err
		}
	}
	b := h.db.NewBatch()
	defer b.Close()
	for p, end := range liveStart {
		if err := h.setCheckpoint(b, p, end); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	h.left.Store(0)
	h.loaded.Store(true)
	return nil
}

// read indexes the records of from up to ends (exclusive), a batch per
// poll.
func (h *history) read(ctx context.Context, opts []kgo.Opt, from, ends map[int32]int64) error {
	b := h.db.NewBatch()
	defer func() { b.Close() }()
	pending := map[string]topics.Result{}
	stuck, err := logread.Read(ctx, opts, logread.Range{Topic: topics.Results, From: from, Ends: ends}, logread.Hooks{
		Record: func(r *kgo.Record) error {
			if res, ok := outcome(r); ok {
				return h.put(b, pending, res, r.Timestamp)
			}
			return nil
		},
		Polled: func() error {
			if b.Empty() {
				return nil
			}
			err := b.Commit(pebble.NoSync)
			b.Close()
			b, pending = h.db.NewBatch(), map[string]topics.Result{}
			return err
		},
		Moved: func(n int64) { h.left.Add(-n) },
	})
	if len(stuck) > 0 {
		// Aborted records without a marker: nothing to index there.
		h.log.Warn("outcome history: nothing delivered below the end; taking the rest for aborted records",
			"partitions", stuck, "after", logread.StuckAfter.String())
	}
	return err
}
