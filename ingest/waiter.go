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

	"github.com/cockroachdb/pebble/v2"
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
	cl   *kgo.Client
	opts []kgo.Opt
	log  *slog.Logger
	// liveStart is where the live consumer starts on each partition: the
	// history is backfilled up to there.
	liveStart map[int32]int64
	history   *history

	mu      sync.Mutex
	waiting map[string]map[*Ticket]struct{}
	recent  map[string]topics.Result
	order   []string // ring of keys in recent, oldest at next
	next    int
	closed  bool // the history is closed: Run has returned
	ready   atomic.Bool
}

// WaiterOption configures a Waiter.
type WaiterOption func(*waiterOptions)

type waiterOptions struct {
	dir       string
	retention time.Duration
	hooks     []kgo.Hook
}

// WithClientHooks adds hooks (kprom's metrics) to the results consumer.
// They stay off the history's own short-lived clients: a kprom hook
// belongs to one client.
func WithClientHooks(hooks ...kgo.Hook) WaiterOption {
	return func(o *waiterOptions) { o.hooks = append(o.hooks, hooks...) }
}

// WithHistory keeps the outcome history in dir (empty: in memory, read
// again from the topic at every start) for retention, which should be
// schedule-results' retention (7 days by default).
func WithHistory(dir string, retention time.Duration) WaiterOption {
	return func(o *waiterOptions) { o.dir, o.retention = dir, retention }
}

// DefaultHistoryRetention is schedule-results' retention.
const DefaultHistoryRetention = 7 * 24 * time.Hour

// NewWaiter creates the results consumer, starting at the current end of
// every partition (read from the broker, so an outcome committed after
// NewWaiter returns is never missed); Run consumes. opts connect to Kafka
// (seed brokers, TLS, SASL, logger; no hooks: the history makes clients
// of its own from them, and metrics hooks go in WithClientHooks).
// maxRecent bounds the outcomes
// kept in memory; older outcomes, back to the topic's retention, come
// from the history (WithHistory; in memory by default). The caller MUST
// run Run, which closes what NewWaiter opened when it returns.
func NewWaiter(ctx context.Context, opts []kgo.Opt, maxRecent int, log *slog.Logger, options ...WaiterOption) (*Waiter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := waiterOptions{retention: DefaultHistoryRetention}
	for _, opt := range options {
		opt(&o)
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond), kgo.WithHooks(o.hooks...))...)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	ends, err := topics.AwaitLastStable(ctx, adm, topics.Results, func(err error) {
		log.Info("waiting for topic", "topic", topics.Results, "err", err)
	})
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("ingest: results end offsets: %w", err)
	}
	start := map[string]map[int32]kgo.Offset{topics.Results: {}}
	liveStart := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		start[topics.Results][o.Partition] = kgo.NewOffset().At(o.Offset)
		liveStart[o.Partition] = o.Offset
	})
	h, err := openHistory(o.dir, o.retention, log)
	if err != nil {
		cl.Close()
		return nil, err
	}
	cl.AddConsumePartitions(start)
	return &Waiter{cl: cl, opts: slices.Clone(opts), log: log, liveStart: liveStart, history: h,
		waiting: map[string]map[*Ticket]struct{}{},
		recent:  make(map[string]topics.Result, maxRecent), order: make([]string, maxRecent)}, nil
}

// Ready reports whether Run is consuming.
func (w *Waiter) Ready() bool { return w.ready.Load() }

// Run consumes until ctx is done, then closes the client and the
// history. Beside the live consumer, it backfills the history from the
// topic and sweeps out what the topic's retention has deleted.
func (w *Waiter) Run(ctx context.Context) error {
	defer w.cl.Close()
	bctx, stop := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() {
		stop()
		bg.Wait()
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		if err := w.history.close(); err != nil {
			w.log.Warn("closing the outcome history", "err", err)
		}
	}()
	bg.Go(func() { w.backfill(bctx) })
	bg.Go(func() { w.sweep(bctx) })
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
		// Each result is decoded once, for the waiting requests and the
		// history both.
		polled := polledResults(fetches)
		for _, r := range polled {
			if r.ok {
				w.deliver(r.res)
			}
		}
		if err := w.index(polled); err != nil {
			w.log.Warn("outcome history", "err", err)
		}
	}
}

// backfill indexes the history up to where the live consumer started,
// trying again while it fails.
func (w *Waiter) backfill(ctx context.Context) {
	for {
		start := time.Now()
		err := w.history.backfill(ctx, w.opts, w.liveStart)
		if err == nil {
			w.log.Info("outcome history loaded", "took", time.Since(start).Round(time.Millisecond))
			return
		}
		if ctx.Err() != nil {
			return
		}
		w.log.Warn("loading the outcome history; trying again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// sweepEvery is how often outcomes past the retention are deleted.
const sweepEvery = time.Hour

func (w *Waiter) sweep(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := w.history.sweep(now); err != nil {
				w.log.Warn("sweeping the outcome history", "err", err)
			} else if n > 0 {
				w.log.Info("outcome history swept", "outcomes", n)
			}
		}
	}
}

// index writes a poll's results to the history and, once it is loaded,
// moves its checkpoints along: a restart then backfills only the gap.
func (w *Waiter) index(polled []polledResult) error {
	if len(polled) == 0 {
		return nil
	}
	b := w.history.db.NewBatch()
	defer b.Close()
	pending := map[string]topics.Result{}
	next := map[int32]int64{}
	for _, r := range polled {
		next[r.partition] = r.offset + 1
		if !r.ok {
			continue
		}
		if err := w.history.put(b, pending, r.res, r.at); err != nil {
			return err
		}
	}
	if w.history.loaded.Load() {
		for p, off := range next {
			if err := w.history.setCheckpoint(b, p, off); err != nil {
				return err
			}
		}
	}
	return b.Commit(pebble.NoSync)
}

func key(tenant, commandID string) string { return tenant + "\x00" + commandID }

// polledResult is a polled record of schedule-results: where it stands
// and, if ok, the result it holds. A record that is no result with a
// tenant (undecodable) only moves the history's checkpoint.
type polledResult struct {
	partition int32
	offset    int64
	at        time.Time
	res       topics.Result
	ok        bool
}

func polledResults(fetches kgo.Fetches) []polledResult {
	out := make([]polledResult, 0, fetches.NumRecords())
	fetches.EachRecord(func(r *kgo.Record) {
		res, ok := outcome(r)
		out = append(out, polledResult{partition: r.Partition, offset: r.Offset, at: r.Timestamp, res: res, ok: ok})
	})
	return out
}

// outcome decodes a record of schedule-results; ok is false for one that
// holds no result of a tenant, which nobody waits for or looks up.
func outcome(r *kgo.Record) (res topics.Result, ok bool) {
	res, err := topics.DecodeResult(r.Value)
	return res, err == nil && res.TenantID != ""
}

// deliver answers the requests waiting for res and keeps it among the
// recent outcomes.
func (w *Waiter) deliver(res topics.Result) {
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
	if old, ok := w.recent[k]; !ok || !old.Own() || res.Own() {
		w.recent[k] = res
	}
	for t := range w.waiting[k] {
		select {
		case t.c <- res:
		default:
		}
	}
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

// Outcome returns a command's outcome, from the recent ones or the
// history, and whether a request on this instance is still waiting for it.
func (w *Waiter) Outcome(tenant, commandID string) (res topics.Result, found, pending bool) {
	k := key(tenant, commandID)
	w.mu.Lock()
	defer w.mu.Unlock()
	res, found = w.recent[k]
	if (!found || !res.Own()) && !w.closed {
		if old, ok, err := w.history.get(k); err != nil {
			w.log.Warn("outcome history", "err", err)
		} else if ok && (!found || old.Own()) {
			res, found = old, true
		}
	}
	return res, found, len(w.waiting[k]) > 0
}

// Loaded reports whether the history holds every outcome still on the
// topic. Before, an unknown command id may be one still to be read.
func (w *Waiter) Loaded() bool { return w.history.loaded.Load() }

// HistoryLeft is how many result records the history has still to read.
func (w *Waiter) HistoryLeft() int64 { return w.history.left.Load() }
