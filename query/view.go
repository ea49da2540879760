package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// Config configures a View.
type Config struct {
	// DataDir holds the Pebble read model.
	DataDir string
	// ClientOpts connect to Kafka (seed brokers, security, logger). They
	// serve two clients, the events' and the keys' consumers, so they
	// hold no hook.
	ClientOpts []kgo.Opt
	// Hooks watch the events' consumer (kprom's metrics): a hook
	// belongs to one client.
	Hooks []kgo.Hook
	// LogicVersion is the fold logic's version; a model built by another
	// is rebuilt. Zero means schedule.LogicVersion.
	LogicVersion int
	// SnapshotEvery is how many events separate two snapshots of a
	// stream: the most a time-travel answer folds. Zero means 64.
	SnapshotEvery int
	// StreamCache is how many streams stay decoded between batches. Zero
	// means 20000.
	StreamCache int
	// MaxPoll bounds the records folded into one Pebble batch. Zero
	// means 10000.
	MaxPoll int
	// MaxWaiting bounds the requests waiting at once for ?minVersion= to
	// be folded; past it the answer is 503 too_many_waiting with
	// Retry-After. Zero means api.DefaultMaxWaiting.
	MaxWaiting int
	Logger     *slog.Logger
	// Registerer receives the view's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Keyring unwraps the data subjects' keys (-kek-file), with which
	// answers open personal fields (docs/privacy.md). Required.
	Keyring shred.Keyring
	// AccessTimeout bounds the wait for an access record's
	// acknowledgement; past it, reads answer 503 audit_unavailable until
	// records land again. Zero means access.DefaultTimeout.
	AccessTimeout time.Duration
	// NoAccessIndex leaves schedule-access unfolded: GET /v1/access
	// answers 404 access_not_indexed. Each replica that indexes folds the
	// records of every replica's reads, so in a deployment of many the
	// replicas that serve reads leave it to one or two that serve
	// auditors (docs/audit.md).
	NoAccessIndex bool
}

func (c *Config) setDefaults() {
	c.LogicVersion = cmp.Or(c.LogicVersion, schedule.LogicVersion)
	c.SnapshotEvery = cmp.Or(c.SnapshotEvery, 64)
	c.StreamCache = cmp.Or(c.StreamCache, 20000)
	c.MaxPoll = cmp.Or(c.MaxPoll, 10000)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Validate reports every problem with the config.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("query: data dir is required"))
	}
	if c.SnapshotEvery < 1 || c.StreamCache < 1 || c.MaxPoll < 1 {
		errs = append(errs, fmt.Errorf("query: snapshot interval (%d), stream cache (%d) and poll size (%d) must be at least 1",
			c.SnapshotEvery, c.StreamCache, c.MaxPoll))
	}
	if c.MaxWaiting < 0 {
		errs = append(errs, errors.New("query: the most waiting must not be negative"))
	}
	if c.Keyring == nil {
		errs = append(errs, errors.New("query: a keyring is required (-kek-file): answers open personal fields with the keys it unwraps"))
	}
	return errors.Join(errs...)
}

// View is the read model and the consumer that keeps it current.
type View struct {
	cfg     Config
	log     *slog.Logger
	model   *model
	metrics *metrics

	// next[p] is the next schedule-events offset of partition p to fold.
	next  []atomic.Int64
	ready atomic.Bool
	// Rebuilt reports that Open found a model of another logic version
	// or layout and wiped it, now or before a restart, and the model has
	// not caught up since: rebuilding is set until it has.
	Rebuilt    bool
	rebuilding atomic.Bool
	opened     time.Time

	cache   *streamCache
	waiters *api.Waiters
	keys    *keyTail
	access  *access.Logger

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every commit
}

// lagInterval is how often the view reads the topic's end offsets.
const lagInterval = time.Second

// Open opens (or creates) the read model. The caller MUST call Close.
func Open(cfg Config) (*View, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, rebuilt, err := openModel(cfg.DataDir, schedule.Definition, cfg.LogicVersion, cfg.SnapshotEvery)
	if err != nil {
		return nil, err
	}
	if rebuilt {
		cfg.Logger.Warn("read model built by other fold logic or layout; rebuilding from the start, answering 503 rebuilding until caught up", "logic", cfg.LogicVersion)
	}
	waiters := api.NewWaiters(cfg.MaxWaiting)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rewind_query_waiting_requests",
			Help: "Requests waiting for ?minVersion= now (bounded by -max-waiting)."},
			func() float64 { return float64(waiters.Waiting()) }))
	}
	logger, err := access.New(access.Config{ClientOpts: cfg.ClientOpts, Service: "query", Timeout: cfg.AccessTimeout,
		Logger: cfg.Logger, Registerer: cfg.Registerer})
	if err != nil {
		_ = m.close()
		return nil, err
	}
	v := &View{cfg: cfg, log: cfg.Logger, model: m, metrics: newMetrics(cfg.Registerer),
		Rebuilt: rebuilt, changed: make(chan struct{}), cache: newStreamCache(cfg.StreamCache),
		waiters: waiters, opened: time.Now(), keys: newKeyTail(cfg.Keyring, cfg.Logger), access: logger}
	v.rebuilding.Store(rebuilt)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rewind_query_rebuilding",
			Help: "1 while the read model is being rebuilt for a new logic version (the API answers 503 rebuilding); rewind_query_view_lag is what is left."},
			func() float64 {
				if v.rebuilding.Load() {
					return 1
				}
				return 0
			}))
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rewind_query_logic_version",
			Help: "The fold logic version this replica serves: during a rollout, old and new replicas side by side."},
			func() float64 { return float64(cfg.LogicVersion) }))
	}
	return v, nil
}

// Rebuilding reports whether the model is being rebuilt for a new logic
// version and has not caught up yet.
func (v *View) Rebuilding() bool { return v.rebuilding.Load() }

// Close closes the read model and the access log. Run must have
// returned, and the API must be served no more.
func (v *View) Close() error {
	v.access.Close()
	return v.model.close()
}

// Ready reports whether the view has folded everything that was committed
// to schedule-events when it started.
func (v *View) Ready() bool { return v.ready.Load() && v.keys.ready.Load() }

// Run consumes schedule-events into the model, schedule-keys into the
// keys answers open personal fields with, and schedule-access into the
// access indexes, until ctx is done or one fails.
func (v *View) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return v.keys.run(ctx, v.cfg.ClientOpts) })
	g.Go(func() error { return v.run(ctx) })
	if accessLogged && !v.cfg.NoAccessIndex {
		// Without an access log there is nothing to index: the bench's
		// baseline must not fold the logged build's records beside it.
		g.Go(func() error { return v.runAccess(ctx) })
	}
	return g.Wait()
}

func (v *View) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx) // stops the lag poller with run
	defer cancel()
	// One client consumes and lists offsets, with the hooks.
	cl, err := kgo.NewClient(append(slices.Clone(v.cfg.ClientOpts), kgo.WithHooks(v.cfg.Hooks...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers take offsets too: seeing them lets the
		// checkpoint reach the end offset, so lag can be zero.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(8<<20),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	listed, err := topics.AwaitLastStable(ctx, adm, topics.Events, func(err error) {
		v.log.Info("waiting for topic", "topic", topics.Events, "err", err)
	})
	if err != nil {
		return nil // ctx ended
	}
	ends := lastStable(listed)
	v.next = make([]atomic.Int64, len(ends))
	offsets := map[int32]kgo.Offset{}
	for p := range ends {
		cp, err := v.model.checkpoint(int32(p))
		if err != nil {
			return err
		}
		v.next[p].Store(cp)
		offsets[int32(p)] = kgo.NewOffset().At(cp)
	}
	v.updateLag(ends)
	go v.pollLag(ctx, adm, ends)
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topics.Events: offsets})
	for {
		fetches := cl.PollRecords(ctx, v.cfg.MaxPoll)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				v.log.Warn("fetch", "topic", t, "partition", p, "err", err)
			}
		})
		if err := v.fold(fetches); err != nil {
			return err
		}
	}
}

// lastStable is schedule-events' last stable offsets, indexed by
// partition.
func lastStable(listed kadm.ListedOffsets) []int64 {
	var ends []int64
	listed.Each(func(o kadm.ListedOffset) {
		if int(o.Partition) >= len(ends) {
			ends = append(ends, make([]int64, int(o.Partition)+1-len(ends))...)
		}
		ends[o.Partition] = o.Offset
	})
	return ends
}

// fold writes one poll's records into the model: one Pebble batch, or
// more when an erasure needs the events before it committed.
func (v *View) fold(fetches kgo.Fetches) error {
	w, err := v.model.newWriter(v.cache)
	if err != nil {
		return err
	}
	var ferr error
	fetches.EachRecord(func(rec *kgo.Record) {
		if ferr != nil || int(rec.Partition) >= len(v.next) {
			return
		}
		if rec.Attrs.IsControl() {
			w.advance(rec.Partition, rec.Offset+1)
			return
		}
		e, err := topics.DecodeEvent(rec)
		switch {
		case err != nil:
			// Not an event this code can read: counted and passed over,
			// never allowed to stop the partition.
			v.metrics.badEvents.Inc()
			v.log.Warn("skipping unreadable event record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
		case e.Tombstone:
			if ferr = v.commit(w); ferr != nil {
				return
			}
			if w, ferr = v.model.newWriter(v.cache); ferr != nil {
				return
			}
			if ferr = w.erase(e.Tenant, e.Stream, e.Version); ferr != nil {
				return
			}
			// The erasure commits alone: a later record of the same
			// stream in this poll must read the refolded stream back,
			// not the state from before the erasure.
			w.advance(rec.Partition, rec.Offset+1)
			if ferr = v.commit(w); ferr != nil {
				return
			}
			// Counted once readers see it: the count tells when an
			// erasure has taken effect.
			v.metrics.erased.Inc()
			w, ferr = v.model.newWriter(v.cache)
			return
		default:
			ferr = w.apply(&e)
		}
		w.advance(rec.Partition, rec.Offset+1)
	})
	if ferr != nil {
		return ferr
	}
	return v.commit(w)
}

func (v *View) commit(w *writer) error {
	if w.empty() {
		w.b.Close()
		return nil
	}
	if err := w.commit(); err != nil {
		return err
	}
	for p, next := range w.offsets {
		v.next[p].Store(next)
	}
	v.metrics.applied.Add(float64(w.applied))
	v.mu.Lock()
	close(v.changed)
	v.changed = make(chan struct{})
	v.mu.Unlock()
	return nil
}

// changes returns a channel closed at the next commit.
func (v *View) changes() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// pollLag exports the view's lag and decides readiness: ready once every
// partition has reached the end it had when the view started.
func (v *View) pollLag(ctx context.Context, adm *kadm.Client, startEnds []int64) {
	t := time.NewTicker(lagInterval)
	defer t.Stop()
	lastLog := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if v.rebuilding.Load() && time.Since(lastLog) >= rebuildLogEvery {
			lastLog = time.Now()
			v.log.Info("rebuilding the read model", "logic", v.cfg.LogicVersion, "records_left", v.left(startEnds),
				"elapsed", time.Since(v.opened).Round(time.Second).String())
		}
		if !v.ready.Load() {
			v.updateLag(startEnds)
		}
		if listed, err := topics.LastStable(ctx, adm, topics.Events); err == nil {
			v.updateLag(lastStable(listed))
		}
	}
}

func (v *View) updateLag(ends []int64) {
	caughtUp := true
	for p := range v.next {
		end := int64(0)
		if p < len(ends) {
			end = ends[p]
		}
		lag := max(end-v.next[p].Load(), 0)
		caughtUp = caughtUp && lag == 0
		v.metrics.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(lag))
	}
	if caughtUp && !v.ready.Load() {
		if v.rebuilding.Load() {
			if err := v.model.rebuilt(); err != nil {
				v.log.Error("clearing the rebuilding mark", "err", err)
				return // tried again at the next poll
			}
			v.rebuilding.Store(false)
			v.log.Info("read model rebuilt", "logic", v.cfg.LogicVersion, "took", time.Since(v.opened).Round(time.Millisecond))
		}
		v.ready.Store(true)
		v.log.Info("read model caught up")
	}
}

// rebuildLogEvery is how often a rebuild logs its progress.
const rebuildLogEvery = 10 * time.Second

// left is how many records of schedule-events are not folded yet.
func (v *View) left(ends []int64) int64 {
	var n int64
	for p := range v.next {
		if p < len(ends) {
			n += max(ends[p]-v.next[p].Load(), 0)
		}
	}
	return n
}
