package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// The read model folds events as they are written, with their personal
// fields sealed (docs/privacy.md): its Pebble files and snapshots hold
// only tokens. An answer opens them at the last moment, with the keys
// the keys tail keeps in memory, so that an erasure shows in the next
// answer of every replica, in its past states too.

// keyTail keeps the data keys of schedule-keys, every partition, in a
// table: a destruction record drops its key at once.
type keyTail struct {
	tab *shred.Table
	log *slog.Logger

	mu      sync.Mutex
	pos     map[int32]int64 // the next offset to read, per partition
	changed chan struct{}   // closed and replaced whenever pos moves

	ready    atomic.Bool   // caught up with the topic as it was at start
	erasures atomic.Uint64 // destruction records applied: answers' ETags change with it
	adm      atomic.Pointer[kadm.Client]

	// erased holds, per "<tenant>/<subject>", the erasures of the
	// subject: the audit trail of GET /v1/visitors/{id}/erasures.
	erasedMu sync.Mutex
	erased   map[string][]Erasure
}

// Erasure is one erasure of a visitor's personal data: who asked, when,
// why, and how many of the visitor's schedules it covered, over every
// partition.
type Erasure struct {
	ErasedAt  time.Time `json:"erasedAt"`
	By        string    `json:"by"`
	Reason    string    `json:"reason,omitempty"`
	Schedules int       `json:"schedules"`
}

func newKeyTail(ring shred.Keyring, log *slog.Logger) *keyTail {
	return &keyTail{tab: shred.NewTable(ring), log: log, pos: map[int32]int64{}, changed: make(chan struct{})}
}

// run reads schedule-keys from the start of every partition until ctx
// ends. It is ready once it has read what was committed when it began.
func (k *keyTail) run(ctx context.Context, opts []kgo.Opt) error {
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumeTopics(topics.Keys), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		// A destruction must reach every replica within a second.
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	k.adm.Store(adm)
	defer k.adm.Store(nil)
	listed, err := topics.AwaitLastStable(ctx, adm, topics.Keys, func(err error) {
		k.log.Info("waiting for topic", "topic", topics.Keys, "err", err)
	})
	if err != nil {
		return nil // ctx ended
	}
	// A wrong KEK ends the service; a broker lost meanwhile is waited
	// for, as the topics were above.
	for {
		err := topics.VerifyKeyring(ctx, opts, k.tab.Keyring())
		if err == nil {
			break
		}
		if errors.Is(err, topics.ErrKEKMismatch) {
			return fmt.Errorf("query: %w", err)
		}
		k.log.Info("waiting for Kafka to verify the KEK", "err", err)
		select {
		case <-ctx.Done():
			return nil // stopped while checking
		case <-time.After(time.Second):
		}
	}
	start := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { start[o.Partition] = o.Offset })
	k.ready.Store(k.reached(start))
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				k.log.Warn("fetch", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachRecord(k.apply)
		k.advance(fs)
		if !k.ready.Load() && k.reached(start) {
			k.ready.Store(true)
		}
	}
	return nil
}

func (k *keyTail) apply(rec *kgo.Record) {
	if rec.Attrs.IsControl() {
		return
	}
	r, err := shred.DecodeRecord(rec.Key, rec.Value, rec.Partition)
	if err == nil {
		err = k.tab.Apply(r)
	}
	if err != nil {
		// By offset: the record names a subject, which a log never does.
		k.log.Warn("key record refused", "partition", rec.Partition, "offset", rec.Offset, "err", err)
		return
	}
	if r.Destroyed != nil {
		k.erasures.Add(1)
		k.noteErasure(r)
	}
}

// noteErasure adds a partition's destruction record to its erasure: the
// records of one erasure share its time, initiator and reason.
func (k *keyTail) noteErasure(r shred.Record) {
	d := r.Destroyed
	key := topics.StreamKey(r.Tenant, r.Subject)
	k.erasedMu.Lock()
	defer k.erasedMu.Unlock()
	if k.erased == nil {
		k.erased = map[string][]Erasure{}
	}
	list := k.erased[key]
	for i := range list {
		if list[i].ErasedAt.Equal(d.At) && list[i].By == d.By && list[i].Reason == d.Reason {
			list[i].Schedules += d.Schedules
			return
		}
	}
	k.erased[key] = append(list, Erasure{ErasedAt: d.At, By: d.By, Reason: d.Reason, Schedules: d.Schedules})
}

// erasuresOf returns a subject's erasures, oldest first.
func (k *keyTail) erasuresOf(tenant, subject string) []Erasure {
	k.erasedMu.Lock()
	defer k.erasedMu.Unlock()
	return slices.Clone(k.erased[topics.StreamKey(tenant, subject)])
}

// advance records the partitions' new positions and wakes the waiters.
func (k *keyTail) advance(fs kgo.Fetches) {
	moved := false
	k.mu.Lock()
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			k.pos[p.Partition] = p.Records[n-1].Offset + 1
			moved = true
		}
	})
	if moved {
		close(k.changed)
		k.changed = make(chan struct{})
	}
	k.mu.Unlock()
}

// reached reports whether every partition has been read up to ends.
func (k *keyTail) reached(ends map[int32]int64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for p, end := range ends {
		if k.pos[p] < end {
			return false
		}
	}
	return true
}

// catchUp waits, at most until ctx ends, until the tail has read what
// schedule-keys held when it was called: a value folded from an event
// opens with a key committed in the same transaction, which the tail may
// not have read yet.
func (k *keyTail) catchUp(ctx context.Context) {
	adm := k.adm.Load()
	if adm == nil {
		return // not running
	}
	listed, err := adm.ListCommittedOffsets(ctx, topics.Keys)
	if err != nil {
		return
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	for !k.reached(ends) {
		k.mu.Lock()
		changed := k.changed
		k.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// tokenStart opens a sealed value inside a JSON document.
var tokenStart = []byte(`"~pd1:`)

// reveal returns doc, a JSON document of one stream ("<tenant>/<id>"),
// with each sealed value replaced by what it holds, shred.Erased once its
// key is destroyed, or shred.Unreadable when it does not open. A value
// whose key the tail has not read yet waits for the tail, at most until
// ctx ends. A document with no sealed value is returned as it is.
func (k *keyTail) reveal(ctx context.Context, stream string, doc []byte) []byte {
	if !bytes.Contains(doc, tokenStart) {
		return doc
	}
	var out []byte
	rest := doc
	waited := false
	for {
		i := bytes.Index(rest, tokenStart)
		if i < 0 {
			return append(out, rest...)
		}
		end := bytes.IndexByte(rest[i+1:], '"')
		if end < 0 {
			return append(out, rest...)
		}
		token := string(rest[i+1 : i+1+end])
		plain, err := k.tab.Open(stream, token)
		if errors.Is(err, shred.ErrUnknownKey) && !waited {
			waited = true
			k.catchUp(ctx)
			plain, err = k.tab.Open(stream, token)
		}
		switch {
		case errors.Is(err, shred.ErrErased):
			plain = shred.Erased
		case err != nil:
			plain = shred.Unreadable
		}
		quoted, _ := json.Marshal(plain)
		out = append(append(out, rest[:i]...), quoted...)
		rest = rest[i+1+end+1:]
	}
}
