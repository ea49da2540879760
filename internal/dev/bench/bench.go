// Package bench measures Rewind on this machine with devkafka as a
// separate process, and prints the numbers of `make bench`: raw produce
// rate, the kernel's cost per command, the many-schedules case, restores from the state topic and by
// folding the events, standby takeover, losing a processor under load,
// latency at 5k/s and 10k/s,
// throughput with 1k and 1M streams, RSS, failover, ingest and the read
// side. The naive map processor (bench -naive) is the baseline of the
// many-schedules case, the 1k streams and the latency, in the same run.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// Run runs the benchmark, or the child process its flags name: the naive
// map processor (-naive) or the latency load generator (-loadgen).
func (b *Bench) Run() error {
	if err := b.Validate(); err != nil {
		return err
	}
	for _, kv := range b.kafkaFlags.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		os.Setenv(name, value)
	}
	// The processors and query services the bench starts seal personal
	// data under keys this KEK wraps, and ingest signs erasures with this
	// key, which the processors check (one of each for the whole run).
	for _, key := range []struct{ env, id string }{{"REWIND_KEK_FILE", "bench"}, {"REWIND_ERASE_KEY_FILE", "bench-erase"}} {
		if os.Getenv(key.env) != "" {
			continue
		}
		f, err := os.CreateTemp("", "rewind-bench-key-")
		if err == nil {
			defer os.Remove(f.Name())
			_, err = f.WriteString(shred.NewKEKLine(key.id))
			f.Close()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key.env, err)
		}
		os.Setenv(key.env, f.Name())
	}
	switch {
	case b.naive:
		return wrap("naive", b.runNaive())
	case b.loadgen:
		return wrap("loadgen", b.runLoadgen())
	}
	return b.run()
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// latencyRates are the rates of the latency case, in commands/s.
var latencyRates = []float64{5000, 10000}

func (b *Bench) run() error {
	dir, err := os.MkdirTemp("", "rewind-bench-")
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		// The processes' logs stay, to read after a failed phase.
		fmt.Fprintln(os.Stderr, "bench: the run's directory, kept (BENCH_DEBUG):", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	switch {
	case b.onlyKernel:
		return kernelCase()
	case b.onlyFailover:
		return b.failoverCase(dir)
	case b.onlyErase:
		return b.eraseCase(dir)
	case b.onlyLatency:
		return b.latencyOnMemoryBroker(filepath.Join(dir, "latency"), latencyRates)
	case b.onlyAudit:
		return b.auditCase(dir)
	}
	e, err := b.mainEnv(dir)
	if err != nil {
		return err
	}
	defer e.close()
	ctx := context.Background()
	fmt.Println("Rewind benchmark (devkafka as a separate process, 12 partitions)")
	raw, err := e.rawRate(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("raw produce rate (200 B values)         %9.0f records/s\n", raw)
	if err := kernelCase(); err != nil {
		return err
	}
	if more, err := b.casesOnTheirOwn(dir, raw); err != nil || !more {
		return err
	}
	tp1k, err := e.hotCase(ctx, dir, raw)
	if err != nil || b.onlyHot {
		return err
	}
	return e.mainCases(ctx, dir, tp1k)
}

// mainEnv is the broker of the cases that share one (devkafka unless
// -brokers names a Kafka), with the bench's client and the topics.
func (b *Bench) mainEnv(dir string) (_ *env, err error) {
	e := &env{Bench: b, dir: dir, kafka: b.kafkaFlags.Brokers, secure: b.kafkaFlags.Brokers != ""}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.kafka == "" {
		if e.kafka, e.broker, err = b.startBroker(filepath.Join(dir, "kafka"), nil); err != nil {
			return nil, err
		}
		b.kafkaFlags.Brokers = e.kafka
	}
	kafkaOpts, err := b.kafkaFlags.Connect(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	e.cl, err = kgo.NewClient(append(kafkaOpts, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))...)
	if err != nil {
		return nil, err
	}
	e.adm = kadm.NewClient(e.cl)
	if _, err = topics.Ensure(context.Background(), e.cl, topics.Layout{Partitions: 12}); err != nil {
		return nil, err
	}
	return e, nil
}

// casesOnTheirOwn runs the cases with brokers of their own: many
// schedules, restores, failover and latency on a broker in memory. It
// reports whether the run goes on (an -only-* flag may end it).
func (b *Bench) casesOnTheirOwn(dir string, raw float64) (more bool, err error) {
	// Many schedules, more than the state cache holds, a few interleaved
	// commands each: durable, then the same loop with its state in memory.
	if b.mixStreams > 0 && !b.onlyHot {
		if err := b.mixCase(dir, raw); err != nil {
			return false, err
		}
	}
	if b.onlyMix {
		return false, nil
	}
	// Restores of one set of schedules with 1× and 3× the history.
	if b.restoreSchedules > 0 && !b.onlyHot {
		if err := b.restoreCase(dir); err != nil {
			return false, err
		}
	}
	if b.onlyRestore {
		return false, nil
	}
	// Losing a processor under load, with and without standbys.
	if b.failoverKills > 0 && !b.onlyHot {
		if err := b.failoverCase(dir); err != nil {
			return false, err
		}
	}

	// Latency on a broker in memory, before the 1k-streams processor
	// starts: nothing of the other phases runs beside it (their brokers
	// and processors would compact and flush on the same two cores).
	if !b.onlyHot {
		if err := b.latencyOnMemoryBroker(filepath.Join(dir, "latency"), latencyRates); err != nil {
			return false, err
		}
	}
	return true, nil
}

// hotCase drains 1k streams with Rewind, the naive map processor and two
// members, and returns Rewind's rate. The processor it starts stays up
// for the later cases.
func (e *env) hotCase(ctx context.Context, dir string, raw float64) (float64, error) {
	// 1k streams: a reservation, then reschedules; every command is
	// accepted.
	if err := e.produceCommands(ctx, e.backlog, 1000); err != nil {
		return 0, err
	}
	e.startProcessor()
	if e.profile != "" && e.phase == "drain" {
		go e.cpuProfile(e.profile)
	}
	brokerCPU := e.brokerCPU()
	tp1k, err := e.drain(ctx, e.backlog)
	if err != nil {
		return 0, err
	}
	fmt.Printf("exactly-once throughput, 1k streams     %9.0f commands/s (%d commands; ratio to raw %.3f)\n", tp1k, e.backlog, tp1k/raw)
	fmt.Printf("    (processor: %.1f CPU seconds; devkafka: %.1f CPU seconds in the drain)\n",
		metricValue("http://"+e.procHTTP+"/metrics", "process_cpu_seconds_total"), e.brokerCPU()-brokerCPU)
	if os.Getenv("BENCH_DEBUG") != "" {
		e.printMetrics("rewind_processor_batch_seconds_sum", "rewind_processor_batch_seconds_count", "rewind_processor_transactions_total",
			"rewind_processor_state_cache", "process_cpu_seconds_total")
	}
	if e.heapProf != "" && e.onlyHot {
		e.fetchProfile("heap", e.heapProf)
	}
	// The baseline of the same backlog: the naive map processor, on a
	// broker of its own.
	hot := func(ctx context.Context, cl *kgo.Client) (int, error) {
		return e.backlog, (&env{Bench: e.Bench, cl: cl}).produceCommands(ctx, e.backlog, 1000)
	}
	naive1k, _, stats, err := e.drainAlone(filepath.Join(dir, "hot-naive"), hot, "hot-naive", mixVariant{naive: true})
	if err != nil {
		return 0, err
	}
	fmt.Printf("  the same, naive map processor         %9.0f commands/s (Rewind ÷ this %.2f, ratio to raw %.3f)\n%s\n", naive1k, tp1k/naive1k, naive1k/raw, stats)
	// Two members in one process: the commit of one overlaps the work of
	// the other, where one member waits for its own.
	members1k, _, stats, err := e.drainAlone(filepath.Join(dir, "hot-members"), hot, "hot-members", mixVariant{flags: []string{"-members", "2"}})
	if err != nil {
		return 0, err
	}
	fmt.Printf("  the same, -members 2                  %9.0f commands/s (÷ the naive processor %.2f, ratio to raw %.3f)\n%s\n", members1k, members1k/naive1k, members1k/raw, stats)
	// The build make bench built from BENCH_BEFORE, if any.
	if e.hasBuild("before") {
		before1k, _, stats, err := e.drainAlone(filepath.Join(dir, "hot-before"), hot, "hot-before", mixVariant{build: "before"})
		if err != nil {
			return 0, err
		}
		fmt.Printf("  the same, the build of BENCH_BEFORE   %9.0f commands/s (Rewind ÷ this %.2f, ratio to raw %.3f)\n%s\n", before1k, tp1k/before1k, before1k/raw, stats)
	}
	return tp1k, nil
}

// mainCases runs the rest on the 1k-streams processor's broker: latency,
// 1M streams, RSS, failover, ingest, erasure and the read side, then
// the audit case on a broker of its own.
func (e *env) mainCases(ctx context.Context, dir string, tp1k float64) error {
	if e.profile != "" && e.phase == "latency" {
		go e.cpuProfile(e.profile)
	}
	// The load generator runs in a process of its own.
	where := "devkafka on disk"
	if e.secure {
		where = "the Kafka of -brokers"
	}
	if err := e.printLatencies(latencyRates, where); err != nil {
		return err
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		e.printMetrics("rewind_processor_batch_seconds_sum", "rewind_processor_batch_seconds_count", "rewind_processor_transactions_total")
	}

	if err := e.produceCommands(ctx, e.many, e.many); err != nil {
		return err
	}
	tpMany, err := e.drain(ctx, e.many)
	if err != nil {
		return err
	}
	fmt.Printf("exactly-once throughput, %dk streams  %9.0f commands/s (%.2f× the 1k-stream rate)\n", e.many/1000, tpMany, tpMany/tp1k)
	if e.heapProf != "" && !e.aloneProfiled() {
		e.fetchProfile("heap", e.heapProf)
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		e.printMetrics("go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
			"go_memstats_sys_bytes", "go_memstats_stack_sys_bytes", "process_resident_memory_bytes")
	}
	fmt.Printf("processor RSS after %dk streams        %9.0f MiB (peak %.0f MiB)\n", e.many/1000, rss(e.proc.Pid(), "VmRSS"), rss(e.proc.Pid(), "VmHWM"))

	fail, err := e.failover(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("failover, SIGKILL → first commit        %9.0f ms\n", float64(fail.Microseconds())/1000)

	rps, p50, p99, err := e.ingestLoad(e.httpRequests, 32)
	if err != nil {
		return err
	}
	fmt.Printf("ingest, POST with wait for the outcome  %9.0f requests/s (32 clients; %.2f× the processor's 1k-stream rate)\n", rps, rps/tp1k)
	fmt.Printf("ingest HTTP latency                     p50 %.1f ms, p99 %.1f ms\n", p50, p99)
	erasures, err := e.eraseLatency(ctx, 10)
	if err != nil {
		return err
	}
	printErasures(erasures)

	if err := e.queryBench(ctx); err != nil {
		return err
	}
	return e.auditCase(filepath.Join(dir, "audit")) // a broker of its own
}

// failover keeps a trickle of commands flowing, SIGKILLs the processor,
// restarts it at once and times until the group commits again.
func (e *env) failover(ctx context.Context) (time.Duration, error) {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			e.cl.Produce(ctx, checkIn(fmt.Sprint("fo-", i)), nil)
		}
	}()
	time.Sleep(time.Second)
	e.proc.Kill()
	killed := time.Now()
	before, _ := e.committed(ctx)
	e.startProcessor()
	return e.untilCommitted(ctx, before+1, killed, time.Minute)
}
