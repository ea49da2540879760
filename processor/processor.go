package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/state"
	"github.com/rewind/rewind/topics"
)

// Processor is one instance of the exactly-once command processor.
type Processor struct {
	cfg     Config
	log     *slog.Logger
	store   *state.Store
	metrics *metrics
	kprom   *kprom.Metrics
	parts   *ownership
	nparts  int32
	known   map[string]bool // command types, for metric labels
	cache   *streamCache
	standby *standbys // nil without standby replicas
	fatal   chan error
	joined  chan struct{} // closed at the first assignment
	once    sync.Once
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
	store, err := state.Open(cfg.DataDir, state.Options{InMemory: cfg.InMemory})
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, t := range cfg.Kind.CommandTypes() {
		known[t] = true
	}
	p := &Processor{
		cfg:     cfg,
		known:   known,
		cache:   newStreamCache(cfg.StateCacheBytes),
		log:     cfg.Logger.With("instance", cfg.InstanceID),
		store:   store,
		metrics: newMetrics(cfg.Registerer),
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
	n, err := topics.Ensure(ctx, admCl, p.cfg.Partitions, p.cfg.ReplicationFactor)
	if err != nil {
		return err
	}
	p.nparts = n

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
		kgo.SeedBrokers(p.cfg.Brokers...),
		kafkaconf.Logger(p.log),
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
		// timeout. franz-go's fixed 3s default loses the membership of a
		// member with a short session timeout.
		kgo.HeartbeatInterval(p.cfg.SessionTimeout/3),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(compressions[p.cfg.Compression]),
		// Within Kafka's default max.message.bytes (1 MiB): a copy of
		// stored records to the state topic fills batches, and a larger
		// one is refused. topics.StateRecord keeps one record under it.
		kgo.ProducerBatchMaxBytes(1_000_000),
		kgo.FetchMaxWait(200*time.Millisecond),
		// A transaction takes at most MaxBatch commands (under 64 KiB each,
		// usually about 300 B): buffering the default 50 MiB of fetched
		// backlog only inflated the heap, to 700 MiB behind a 1M backlog.
		kgo.FetchMaxBytes(8<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
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
	p.restores.Add(1)
	go p.runRestore(ctx, rctx, cl, parts, previous, done)
}

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
	if p.standby != nil {
		p.standby.release(rctx, parts) // its copies are this restore's start
	}
	start := time.Now()
	var cps map[int32]state.Checkpoint
	var err error
	if h := p.cfg.Hooks.BeforeRestore; h != nil {
		err = h(rctx, parts)
	}
	if err == nil {
		cps, err = p.restore(rctx, parts)
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
	if p.standby != nil {
		p.standby.unhold(parts)
	}
	p.metrics.owned.Set(float64(p.parts.ownedCount()))
	p.metrics.restoring.Set(float64(p.parts.restoringCount()))
	p.log.Info("partitions revoked", "partitions", parts)
}

// ownership tracks which partitions are restoring or ready, and the
// checkpoint of each ready one. A generation number per ready partition
// lets the loop tell whether a partition it handled was revoked (and maybe
// reassigned and restored) while its batch was in flight.
type ownership struct {
	mu        sync.Mutex
	gen       uint64
	restoring map[int32]context.CancelFunc
	ready     map[int32]owned
	runs      map[int32]chan struct{} // closed when the last restore of a partition has returned
	// rewrites holds, per ready partition whose store the state topic
	// does not yet mirror (after a fold of the events), the last stream
	// copied to the state topic so far ("" before the first).
	rewrites map[int32]string
}

type owned struct {
	cp  state.Checkpoint
	gen uint64
}

func newOwnership() *ownership {
	return &ownership{restoring: map[int32]context.CancelFunc{}, ready: map[int32]owned{}, runs: map[int32]chan struct{}{}, rewrites: map[int32]string{}}
}

// startRestore marks parts as restoring by the run that closes done, and
// returns the done channels of earlier runs over any of them.
func (o *ownership) startRestore(parts []int32, cancel context.CancelFunc, done chan struct{}) []chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	var previous []chan struct{}
	for _, part := range parts {
		delete(o.ready, part)
		o.restoring[part] = cancel
		if prev, ok := o.runs[part]; ok {
			previous = append(previous, prev)
		}
		o.runs[part] = done
	}
	return previous
}

// restart hands the partitions of parts that the run closing done left
// restoring (assigned still, to no later run) to a new run, at once, so
// that a revoke cannot come in between.
func (o *ownership) restart(parts []int32, done chan struct{}, cancel context.CancelFunc, next chan struct{}) []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var left []int32
	for _, part := range parts {
		if _, ok := o.restoring[part]; ok && o.runs[part] == done {
			o.restoring[part], o.runs[part] = cancel, next
			left = append(left, part)
		}
	}
	return left
}

// finishRestore marks the partitions restored by the run closing run
// ready, unless they were revoked meanwhile (or handed to a later run),
// and returns the ones it marked. Those the state topic does not mirror
// are to be copied to it.
func (o *ownership) finishRestore(cps map[int32]state.Checkpoint, run chan struct{}) []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var done []int32
	for part, cp := range cps {
		if _, ok := o.restoring[part]; ok && o.runs[part] == run {
			delete(o.restoring, part)
			o.gen++
			o.ready[part] = owned{cp: cp, gen: o.gen}
			if !cp.Synced {
				o.rewrites[part] = ""
			}
			done = append(done, part)
		}
	}
	return done
}

// lastRun returns the done channel of the last restore of part, or nil.
func (o *ownership) lastRun(part int32) chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.runs[part]
}

func (o *ownership) drop(parts []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, part := range parts {
		if cancel, ok := o.restoring[part]; ok {
			cancel()
			delete(o.restoring, part)
		}
		delete(o.ready, part)
		delete(o.rewrites, part)
	}
}

func (o *ownership) cancelAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, cancel := range o.restoring {
		cancel()
	}
}

// snapshot returns the ready partitions, with checkpoints and generations.
func (o *ownership) snapshot() map[int32]owned {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[int32]owned, len(o.ready))
	for k, v := range o.ready {
		out[k] = v
	}
	return out
}

// rewriting returns the cursors of the partitions of seen being copied to
// the state topic.
func (o *ownership) rewriting(seen map[int32]owned) map[int32]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[int32]string{}
	for part, after := range o.rewrites {
		if _, ok := seen[part]; ok {
			out[part] = after
		}
	}
	return out
}

// commit calls write with the partitions of seen that are still ready in
// the same generation, and records their new checkpoints and rewrite
// cursors ("" ends a rewrite). It holds the lock throughout, so a restore
// cannot read a checkpoint while a batch's states are half written.
func (o *ownership) commit(seen map[int32]owned, cps map[int32]state.Checkpoint, rewrites map[int32]string, write func(keep func(int32) bool) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := func(part int32) bool {
		now, ok := o.ready[part]
		return ok && now.gen == seen[part].gen
	}
	if err := write(keep); err != nil {
		return err
	}
	for part, cp := range cps {
		if keep(part) {
			o.ready[part] = owned{cp: cp, gen: o.ready[part].gen}
		}
	}
	for part, last := range rewrites {
		if _, ok := o.rewrites[part]; ok && keep(part) {
			if last == "" {
				delete(o.rewrites, part)
			} else {
				o.rewrites[part] = last
			}
		}
	}
	return nil
}

func (o *ownership) rewritePending() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.rewrites) > 0
}

func (o *ownership) ownedCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.ready) + len(o.restoring)
}

func (o *ownership) restoringCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.restoring)
}
