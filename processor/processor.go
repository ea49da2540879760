package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/rewind/rewind/kv"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// Processor is one instance of the exactly-once command processor.
type Processor struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	metrics *metrics
	kprom   *kprom.Metrics
	parts   *ownership
	nparts  int32
	known   map[string]bool // command types, for metric labels
	cache   *streamCache
	keys    *shred.Table // the data keys of the partitions this member owns (personal.go)
	seed    []byte       // the seed state, encoded
	standby *standbys    // nil without standby replicas
	fatal   chan error
	joined  chan struct{} // closed at the first assignment
	once    sync.Once
	// holdUntil is when this member's offset commits may go on again
	// after an assignment (UnixNano; holdAfterRebalance).
	holdUntil atomic.Int64
	// restores and background count the goroutines that write the
	// store: Run waits for them, so that Close never closes it under
	// them.
	restores   sync.WaitGroup
	background sync.WaitGroup
}

// New opens the store and checks the config. It does not touch Kafka
// until Run. The caller MUST call Close after Run returns.
func New(cfg Config) (*Processor, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := store.Open(cfg.DataDir, kv.Options{CacheBytes: cfg.BlockCacheBytes, InMemory: cfg.InMemory})
	if err != nil {
		return nil, err
	}
	seed, err := cfg.Kind.AppendState(nil, cfg.Kind.Seed())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("processor: encode the seed state: %w", err)
	}
	known := map[string]bool{}
	for _, t := range cfg.Kind.CommandTypes() {
		known[t] = true
	}
	p := &Processor{
		cfg:     cfg,
		known:   known,
		cache:   newStreamCache(cfg.StateCacheBytes),
		keys:    shred.NewTable(cfg.Keyring),
		seed:    seed,
		log:     cfg.Logger.With("instance", cfg.InstanceID),
		store:   db,
		metrics: newMetrics(cfg.Registerer, cfg.Kind.LogicVersion()),
		parts:   newOwnership(),
		fatal:   make(chan error, 1),
		joined:  make(chan struct{}),
	}
	if cfg.StandbyReplicas > 0 {
		p.standby = newStandbys(p, cfg.StandbyReplicas)
	}
	p.metrics.initLabels(append(cfg.Kind.CommandTypes(), "unknown"))
	if cfg.Registerer != nil {
		p.kprom = kprom.NewMetrics("rewind_processor_kafka", kprom.Registerer(cfg.Registerer))
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rewind_processor_state_rewrites",
			Help: "Partitions whose fold is being copied to the state topic; until that ends, a restore elsewhere folds the events again.",
		}, func() float64 { return float64(p.parts.rewriteCount()) }))
	}
	return p, nil
}

// Close closes the store.
func (p *Processor) Close() error { return p.store.Close() }

// Ready reports whether the group has given this member its first
// assignment (possibly of no partition: a member beyond the partition
// count is a spare) and every partition it owns is restored. Before that
// it owns nothing and knows of nothing to restore, and saying ready
// would let a rolling restart move on before the member took any work.
func (p *Processor) Ready() bool {
	select {
	case <-p.joined:
		return p.parts.restoringCount() == 0
	default:
		return false
	}
}

// heartbeatInterval is the longest interval between two heartbeats of a
// member (Processor.sessionOpts).
const heartbeatInterval = 250 * time.Millisecond

// TransactionalID is the transactional id of an instance.
func TransactionalID(group, instance string) string { return group + "-" + instance }

// Run processes commands until ctx is canceled or a fatal error occurs.
// On cancellation it finishes the batch in flight (commit or abort) and
// leaves the group.
func (p *Processor) Run(ctx context.Context) error {
	admCl, err := kgo.NewClient(p.clientOpts()...)
	if err != nil {
		return fmt.Errorf("processor: admin client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	n, err := topics.Ensure(ctx, admCl, topics.Layout{Partitions: p.cfg.Partitions, ReplicationFactor: p.cfg.ReplicationFactor, AccessRetention: p.cfg.AccessRetention})
	if err != nil {
		return err
	}
	p.nparts = n
	if err := topics.VerifyKeyring(ctx, p.clientOpts(), p.cfg.Keyring); err != nil {
		return fmt.Errorf("processor: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess, err := kgo.NewGroupTransactSession(p.sessionOpts(runCtx, adm)...)
	if err != nil {
		return fmt.Errorf("processor: session: %w", err)
	}
	// Loading the producer id fences this instance's previous incarnation
	// and aborts its open transaction now, rather than at its timeout:
	// restores wait for exactly that.
	if _, _, err := sess.Client().ProducerID(runCtx); err != nil {
		sess.Close()
		return fmt.Errorf("processor: init producer id: %w", err)
	}
	go p.pollLag(runCtx, adm)
	if p.standby != nil {
		p.background.Go(func() { p.standby.run(runCtx, adm) })
	}
	defer p.background.Wait()
	defer p.restores.Wait() // after cancel: the restores end with runCtx
	p.log.Info("processor running", "partitions", n, "group", p.cfg.Group)

	err = p.loop(runCtx, sess)
	var crash *crashError
	if errors.As(err, &crash) {
		// A simulated crash: no End, no leave; the client just goes away.
		cancel()
		sess.Client().Close()
		return crash.err
	}
	cancel()
	p.parts.cancelAll()
	if err != nil {
		// The session may hold an open transaction: abort it, so the next
		// owner of these partitions need not wait for the timeout.
		abortCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = sess.End(abortCtx, kgo.TryAbort)
		done()
	}
	// Close first: removing the static member while its client still runs
	// makes the client rejoin, and Close then waits on that forever.
	closed := make(chan struct{})
	go func() { sess.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		p.log.Warn("kafka client did not close within 10s")
	}
	p.leave(adm)
	return err
}

// leave removes this static member from the group, so its partitions move
// to the others at once instead of after the session timeout.
func (p *Processor) leave(adm *kadm.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kadm.LeaveGroup(p.cfg.Group).InstanceIDs(p.cfg.InstanceID).Reason("shutdown")
	if _, err := adm.LeaveGroup(ctx, req); err != nil {
		p.log.Warn("leave group", "err", err)
	}
}

func (p *Processor) clientOpts() []kgo.Opt {
	return append(slices.Clone(p.cfg.ClientOpts),
		// The group's description shows it: standbys tell by it which
		// members share a process (standbyParts).
		kgo.ClientID(clientIDPrefix+p.cfg.processID()),
	)
}

func (p *Processor) sessionOpts(ctx context.Context, adm *kadm.Client) []kgo.Opt {
	opts := append(p.clientOpts(),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(topics.Commands),
		kgo.InstanceID(p.cfg.InstanceID),
		kgo.TransactionalID(TransactionalID(p.cfg.Group, p.cfg.InstanceID)),
		kgo.TransactionTimeout(p.cfg.TransactionTimeout),
		kgo.SessionTimeout(p.cfg.SessionTimeout),
		// Kafka's rule: heartbeat at most every third of the session
		// timeout; franz-go's fixed 3s default loses the membership of a
		// member with a short session timeout. Beyond that, a survivor
		// learns that a lost member's session expired only at its next
		// heartbeat, so the interval adds to every failover. 500 ms left
		// too little of the 1 s a takeover may take beyond the session
		// timeout on a loaded machine (the lost member's last batch, the
		// rebalance and the restore share it): 250 ms, four small
		// requests a second per member.
		kgo.HeartbeatInterval(min(p.cfg.SessionTimeout/3, heartbeatInterval)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// A batch's records linger up to 20 ms, or until the batch ends
		// (batch.wait flushes at once): a short batch sends its records
		// in one request, a long one every 20 ms while it goes on. No
		// command waits longer for it, as a transaction commits only
		// after its last record is acknowledged. Sent as they came
		// (linger 0), they made hundreds of small batches per
		// transaction, which cost the broker 4× the CPU per command and
		// the processor a fifth more. Lingering records count against
		// MaxBufferedRecords, and a full buffer blocks a produce until a
		// linger ends, so that is no limit here: the batch bounds what
		// it produces (MaxBatch commands' records, a rewrite chunk per
		// partition).
		kgo.ProducerLinger(20*time.Millisecond),
		kgo.MaxBufferedRecords(1<<30),
		kgo.ProducerBatchCompression(compressions[p.cfg.Compression]),
		// Within Kafka's default max.message.bytes (1 MiB): a copy of
		// stored records to the state topic fills batches, and a larger
		// one is refused. topics.StateRecord keeps one record under it.
		kgo.ProducerBatchMaxBytes(1_000_000),
		kgo.FetchMaxWait(200*time.Millisecond),
		// A transaction takes at most MaxBatch commands (under 64 KiB each,
		// usually about 300 B): buffering the default 50 MiB of fetched
		// backlog only inflated the heap, to 700 MiB behind a 1M backlog.
		// A fetch is counted compressed and held decoded until polled:
		// 8 MiB held 65 MiB of records per member.
		kgo.FetchMaxBytes(2<<20),
		kgo.FetchMaxPartitionBytes(512<<10),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
			p.assigned(ctx, cl, assigned[topics.Commands])
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
			p.revoked(revoked[topics.Commands])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			p.revoked(lost[topics.Commands])
		}),
	)
	if p.kprom != nil {
		opts = append(opts, kgo.WithHooks(p.kprom))
	}
	return opts
}

// assigned pauses the new partitions and restores them in the background;
// each is resumed once it has caught up. Heartbeats go on meanwhile.
func (p *Processor) assigned(ctx context.Context, cl *kgo.Client, parts []int32) {
	defer p.once.Do(func() { close(p.joined) })
	// Offset commits wait while the callback runs, and offsetHold after
	// it returns, when franz-go fetches the new partitions' offsets.
	p.holdUntil.Store(time.Now().Add(time.Hour).UnixNano())
	defer func() { p.holdUntil.Store(time.Now().Add(offsetHold).UnixNano()) }()
	if p.standby != nil {
		p.standby.wake() // the group changed
	}
	if len(parts) == 0 {
		return
	}
	cl.PauseFetchPartitions(map[string][]int32{topics.Commands: parts})
	if p.standby != nil {
		// Here, in order with revoked: no copy of these starts from now.
		p.standby.hold(parts)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	previous := p.parts.startRestore(parts, cancel, done)
	p.metrics.owned.Set(float64(p.parts.ownedCount()))
	p.metrics.restoring.Set(float64(p.parts.restoringCount()))
	p.log.Info("partitions assigned", "partitions", parts)
	// franz-go fetches the new partitions' committed offsets once this
	// callback returns. Offsets pending in a transaction get it answered
	// UNSTABLE_OFFSET_COMMIT, and it asks again a fixed second later: a
	// second more of write pause. A lost owner killed between its offset
	// commit and its commit left them: fencing it here, before the fetch,
	// spares that second (the restore looks again: endOrphans). Then
	// the callback waits, asking more often, until nothing holds the
	// offsets (awaitStableOffsets).
	fctx, fcancel := context.WithTimeout(ctx, fenceAtAssignment)
	p.endOrphans(cl, parts)(fctx)
	p.awaitStableOffsets(fctx, cl, parts)
	fcancel()
	p.parts.step(parts, func(t *takeover) *time.Time { return &t.fenced })
	p.restores.Add(1)
	go p.runRestore(ctx, rctx, cl, parts, previous, done)
}

// fenceAtAssignment bounds the fence and the wait for stable offsets in
// the assignment's callback: past it, the offset fetch's own second of
// waiting costs no more.
const fenceAtAssignment = time.Second

// runRestore restores parts as the run that closes done, after the
// earlier runs over any of them have returned.
func (p *Processor) runRestore(ctx, rctx context.Context, cl *kgo.Client, parts []int32, previous []chan struct{}, done chan struct{}) {
	defer p.restores.Done()
	defer close(done)
	// A canceled restore of the same partitions may still be writing:
	// reading its half-written state would fold events twice.
	for _, prev := range previous {
		<-prev
	}
	var keysFrom map[int32]int64
	if p.standby != nil {
		keysFrom = p.standby.release(rctx, parts) // its copies are this restore's start
	}
	start := time.Now()
	p.parts.step(parts, func(t *takeover) *time.Time { return &t.restoring })
	var cps map[int32]store.Checkpoint
	var err error
	if h := p.cfg.hooks.BeforeRestore; h != nil {
		err = h(rctx, parts)
	}
	if err == nil {
		cps, err = p.restore(rctx, parts, keysFrom)
	}
	if err != nil {
		if rctx.Err() == nil {
			select {
			case p.fatal <- fmt.Errorf("processor: restore %v: %w", parts, err):
			default:
			}
			return
		}
		// Revoked or shutting down. A revoke of some of the partitions
		// cancels the restore of all: those still assigned start over,
		// once this run has returned.
		if ctx.Err() != nil {
			return
		}
		nctx, ncancel := context.WithCancel(ctx)
		ndone := make(chan struct{})
		left := p.parts.restart(parts, done, ncancel, ndone)
		if len(left) == 0 {
			ncancel()
			return
		}
		p.log.Info("restore restarted after a partial revoke", "partitions", left)
		p.restores.Add(1)
		go p.runRestore(ctx, nctx, cl, left, []chan struct{}{done}, ndone)
		return
	}
	ready := p.parts.finishRestore(cps, done)
	p.metrics.restoring.Set(float64(p.parts.restoringCount()))
	cl.ResumeFetchPartitions(map[string][]int32{topics.Commands: ready})
	p.log.Info("partitions restored", "partitions", ready, "took", time.Since(start).Round(time.Millisecond))
}

// revoked forgets partitions. It runs under the session's lock: it must
// not call End.
func (p *Processor) revoked(parts []int32) {
	if len(parts) == 0 {
		return
	}
	p.parts.drop(parts)
	for _, part := range parts {
		p.keys.DropPartition(part)
	}
	if p.standby != nil {
		p.standby.unhold(parts)
	}
	p.metrics.owned.Set(float64(p.parts.ownedCount()))
	p.metrics.restoring.Set(float64(p.parts.restoringCount()))
	p.log.Info("partitions revoked", "partitions", parts)
}
