package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/topics"
)

// Waiter matches outcomes on schedule-results to the requests waiting for
// them. One per ingest instance: it reads every partition, read
// committed, from the end, so several instances can run at once. Memory
// is bounded: tickets end with their request, and recent outcomes are kept
// in a FIFO of fixed size.
type Waiter struct {
	cl  *kgo.Client
	log *slog.Logger

	mu      sync.Mutex
	waiting map[string]map[*Ticket]struct{}
	recent  map[string]topics.Result
	order   []string // ring of keys in recent, oldest at next
	next    int
	ready   atomic.Bool
}

// NewWaiter creates the results consumer, starting at the current end of
// every partition (read from the broker, so an outcome committed after
// NewWaiter returns is never missed); Run consumes. opts connect to Kafka
// (seed brokers, TLS, SASL, logger, metrics hooks: one client is made
// from them, which also lists the offsets). maxRecent bounds the outcomes
// kept for GET /v1/commands/{id}.
func NewWaiter(ctx context.Context, opts []kgo.Opt, maxRecent int, log *slog.Logger) (*Waiter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	// The processor creates the topics; a service started beside it (make
	// run, docker compose) waits for them instead of failing.
	var ends kadm.ListedOffsets
	for {
		ends, err = adm.ListCommittedOffsets(ctx, topics.Results)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			break
		}
		log.Info("waiting for topic", "topic", topics.Results, "err", err)
		select {
		case <-ctx.Done():
			cl.Close()
			return nil, fmt.Errorf("ingest: results end offsets: %w", err)
		case <-time.After(time.Second):
		}
	}
	start := map[string]map[int32]kgo.Offset{topics.Results: {}}
	ends.Each(func(o kadm.ListedOffset) { start[topics.Results][o.Partition] = kgo.NewOffset().At(o.Offset) })
	cl.AddConsumePartitions(start)
	return &Waiter{cl: cl, log: log, waiting: map[string]map[*Ticket]struct{}{},
		recent: make(map[string]topics.Result, maxRecent), order: make([]string, maxRecent)}, nil
}

// Ready reports whether Run is consuming.
func (w *Waiter) Ready() bool { return w.ready.Load() }

// Run consumes until ctx is done, then closes the client.
func (w *Waiter) Run(ctx context.Context) error {
	defer w.cl.Close()
	w.ready.Store(true)
	defer w.ready.Store(false)
	for {
		fetches := w.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				w.log.Warn("results fetch", "partition", p, "err", err)
			}
		})
		fetches.EachRecord(w.deliver)
	}
}

func key(tenant, commandID string) string { return tenant + "\x00" + commandID }

func (w *Waiter) deliver(r *kgo.Record) {
	res, err := topics.DecodeResult(r.Value)
	if err != nil || res.TenantID == "" {
		return
	}
	k := key(res.TenantID, res.CommandID)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.recent[k]; !ok && len(w.order) > 0 {
		if old := w.order[w.next]; old != "" {
			delete(w.recent, old)
		}
		w.order[w.next] = k
		w.next = (w.next + 1) % len(w.order)
	}
	// A retry's answer (duplicate) or a refused reuse of the id is not
	// the command's own outcome: GET /v1/commands/{id} keeps answering
	// the first.
	if old, ok := w.recent[k]; !ok || !ownOutcome(old) || ownOutcome(res) {
		w.recent[k] = res
	}
	for t := range w.waiting[k] {
		select {
		case t.c <- res:
		default:
		}
	}
}

// ownOutcome reports whether res is what the command itself came to:
// accepted or rejected, not a duplicate or a refused reuse of its id.
func ownOutcome(res topics.Result) bool {
	return res.Status != topics.StatusDuplicate && res.Code != CodeIdempotencyKeyReused
}

// Ticket waits for one command's outcome. Register it before producing, so
// an outcome that comes back fast is not missed; the caller MUST call
// Close.
type Ticket struct {
	w *Waiter
	k string
	c chan topics.Result
}

// Register starts waiting for the outcome of (tenant, commandID).
func (w *Waiter) Register(tenant, commandID string) *Ticket {
	t := &Ticket{w: w, k: key(tenant, commandID), c: make(chan topics.Result, 1)}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting[t.k] == nil {
		w.waiting[t.k] = map[*Ticket]struct{}{}
	}
	w.waiting[t.k][t] = struct{}{}
	return t
}

// Wait returns the outcome, or false when ctx ends first.
func (t *Ticket) Wait(ctx context.Context) (topics.Result, bool) {
	select {
	case res := <-t.c:
		return res, true
	case <-ctx.Done():
		return topics.Result{}, false
	}
}

// Close stops waiting.
func (t *Ticket) Close() {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	delete(t.w.waiting[t.k], t)
	if len(t.w.waiting[t.k]) == 0 {
		delete(t.w.waiting, t.k)
	}
}

// Outcome returns a recent outcome, and whether a request on this
// instance is still waiting for it.
func (w *Waiter) Outcome(tenant, commandID string) (res topics.Result, found, pending bool) {
	k := key(tenant, commandID)
	w.mu.Lock()
	defer w.mu.Unlock()
	res, found = w.recent[k]
	return res, found, len(w.waiting[k]) > 0
}
