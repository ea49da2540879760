// Command bench measures Rewind on this machine with devkafka as a
// separate process, and prints the numbers of `make bench`: raw produce
// rate, the many-schedules case, restores from the state topic and by
// folding the events, standby takeover, losing a processor under load,
// latency at 5k/s and 10k/s,
// throughput with 1k and 1M streams, RSS, failover, ingest and the read
// side. The naive map processor (bench -naive) is the baseline of the
// many-schedules case, the 1k streams and the latency, in the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

var (
	binDir       = flag.String("bin", "bin", "directory with devkafka and processor")
	backlog      = flag.Int("backlog", 500000, "commands in the 1k-stream backlog")
	many         = flag.Int("streams", 1000000, "streams in the many-stream backlog (one command each)")
	rawCount     = flag.Int("raw", 500000, "records for the raw produce rate")
	profile      = flag.String("cpuprofile", "", "write a 5 s CPU profile of the processor here")
	httpRequests = flag.Int("requests", 20000, "HTTP requests of the ingest load")
	profileAfter = flag.Duration("cpuprofile-after", time.Second, "start the CPU profile this long after the processor")
	profileFor   = flag.Duration("cpuprofile-for", 5*time.Second, "the CPU profile's length (whole seconds)")
	progress     = flag.Bool("progress", false, "print a drain's progress every 10 s (to stderr)")
	heapProf     = flag.String("heapprofile", "", "write a heap profile of the processor (with its allocations since start) after the many-stream drain (with -only-hot, the 1k-stream drain), or the -cpuprofile-phase mix variant's, here")
	phase        = flag.String("cpuprofile-phase", "drain", "when to profile: mix-durable, mix-memory, mix-members, mix-naive (the many-schedules case's variants), drain (1k streams), hot-naive (the naive map processor on them), hot-members (two members on them), latency, cold, fold (a restore folding the events) or preview (the replay preview of the restore case)")
	onlyMix      = flag.Bool("only-mix", false, "stop after the many-schedules case")
	onlyHot      = flag.Bool("only-hot", false, "run only the 1k-streams drains, Rewind's (one member and two) and the naive map processor's (with the raw rate)")
	mixWhich     = flag.String("mix-variants", "durable,personal,memory,members,naive", "variants of the many-schedules case to run: durable, personal (durable, with personal data on every reservation, walk-in and consultation), memory (state in memory), members (-members 2), naive (the naive map processor)")
	mixStreams   = flag.Int("mix-schedules", 400000, "schedules in the many-schedules case (a few interleaved commands each)")
	// An external Kafka, and how to reach it; the services bench starts
	// get the -kafka-* settings through their REWIND_* variables.
	kafkaFlags = kafkaconf.RegisterDefault(flag.CommandLine, "", "an external Kafka's seed brokers (its topics must be empty); empty starts devkafka")
)

func main() {
	// REWIND_* variables fill flags not given: how the load generator
	// gets the security settings of -brokers.
	if err := cli.Parse(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := checkMixVariants(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	for _, kv := range kafkaFlags.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		os.Setenv(name, value)
	}
	// The processors and query services the bench starts seal personal
	// data under keys this KEK wraps (one for the whole run).
	if os.Getenv("REWIND_KEK_FILE") == "" {
		kek, err := os.CreateTemp("", "rewind-bench-kek-")
		if err == nil {
			defer os.Remove(kek.Name())
			_, err = kek.WriteString(shred.NewKEKLine("bench"))
			kek.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: KEK file:", err)
			os.Exit(1)
		}
		os.Setenv("REWIND_KEK_FILE", kek.Name())
	}
	if *naive {
		if err := runNaive(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: naive:", err)
			os.Exit(1)
		}
		return
	}
	if *loadgen {
		if err := runLoadgen(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: loadgen:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "rewind-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *onlyFailover {
		return failoverCase(dir)
	}
	if *onlyErase {
		return eraseCase(dir)
	}
	if *onlyAudit {
		return auditCase(dir)
	}
	e := &env{dir: dir, kafka: kafkaFlags.Brokers, secure: kafkaFlags.Brokers != ""}
	if e.kafka == "" {
		if e.kafka, e.broker, err = startBroker(filepath.Join(dir, "kafka"), nil); err != nil {
			return err
		}
		defer stop(e.broker)
		kafkaFlags.Brokers = e.kafka
	}
	kafkaOpts, err := kafkaFlags.Connect(context.Background(), nil)
	if err != nil {
		return err
	}
	e.cl, err = kgo.NewClient(append(kafkaOpts, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))...)
	if err != nil {
		return err
	}
	defer e.cl.Close()
	e.adm = kadm.NewClient(e.cl)
	ctx := context.Background()
	if _, err := topics.Ensure(ctx, e.cl, topics.Layout{Partitions: 12}); err != nil {
		return err
	}

	fmt.Println("Rewind benchmark (devkafka as a separate process, 12 partitions)")
	raw, err := e.rawRate(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("raw produce rate (200 B values)         %9.0f records/s\n", raw)

	// Many schedules, more than the state cache holds, a few interleaved
	// commands each: durable, then the same loop with its state in memory.
	if *mixStreams > 0 && !*onlyHot {
		if err := mixCase(dir, raw); err != nil {
			return err
		}
	}
	if *onlyMix {
		return nil
	}
	// Restores of one set of schedules with 1× and 3× the history.
	if *restoreSchedules > 0 && !*onlyHot {
		if err := restoreCase(dir); err != nil {
			return err
		}
	}
	if *onlyRestore {
		return nil
	}
	// Losing a processor under load, with and without standbys.
	if *failoverKills > 0 && !*onlyHot {
		if err := failoverCase(dir); err != nil {
			return err
		}
	}

	// Latency on a broker in memory, before the 1k-streams processor
	// starts: nothing of the other phases runs beside it (their brokers
	// and processors would compact and flush on the same two cores).
	rates := []float64{5000, 10000}
	if !*onlyHot {
		if err := latencyOnMemoryBroker(filepath.Join(dir, "latency"), rates); err != nil {
			return err
		}
	}

	// 1k streams: a reservation, then reschedules; every command is
	// accepted.
	if err := e.produceCommands(ctx, *backlog, 1000); err != nil {
		return err
	}
	e.startProcessor()
	// Whichever processor runs last (failover replaces it) is stopped on
	// every way out, -only-hot's and errors' too.
	defer func() { stop(e.proc) }()
	if *profile != "" && *phase == "drain" {
		go e.cpuProfile(*profile)
	}
	brokerCPU := e.brokerCPU()
	tp1k, err := e.drain(ctx, *backlog)
	if err != nil {
		return err
	}
	fmt.Printf("exactly-once throughput, 1k streams     %9.0f commands/s (%d commands; ratio to raw %.3f)\n", tp1k, *backlog, tp1k/raw)
	fmt.Printf("    (processor: %.1f CPU seconds; devkafka: %.1f CPU seconds in the drain)\n",
		metricValue("http://"+e.procHTTP+"/metrics", "process_cpu_seconds_total"), e.brokerCPU()-brokerCPU)
	if os.Getenv("BENCH_DEBUG") != "" {
		e.printMetrics("rewind_processor_batch_seconds_sum", "rewind_processor_batch_seconds_count", "rewind_processor_transactions_total",
			"rewind_processor_state_cache", "process_cpu_seconds_total")
	}
	if *heapProf != "" && *onlyHot {
		e.fetchProfile("heap", *heapProf)
	}
	// The baseline of the same backlog: the naive map processor, on a
	// broker of its own.
	hot := func(ctx context.Context, cl *kgo.Client) (int, error) {
		return *backlog, (&env{cl: cl}).produceCommands(ctx, *backlog, 1000)
	}
	naive1k, _, stats, err := drainAlone(filepath.Join(dir, "hot-naive"), hot, "hot-naive", true)
	if err != nil {
		return err
	}
	fmt.Printf("  the same, naive map processor         %9.0f commands/s (Rewind ÷ this %.2f, ratio to raw %.3f)\n%s\n", naive1k, tp1k/naive1k, naive1k/raw, stats)
	// Two members in one process: the commit of one overlaps the work of
	// the other, where one member waits for its own.
	members1k, _, stats, err := drainAlone(filepath.Join(dir, "hot-members"), hot, "hot-members", false, "-members", "2")
	if err != nil {
		return err
	}
	fmt.Printf("  the same, -members 2                  %9.0f commands/s (÷ the naive processor %.2f, ratio to raw %.3f)\n%s\n", members1k, members1k/naive1k, members1k/raw, stats)
	if *onlyHot {
		return nil
	}

	if *profile != "" && *phase == "latency" {
		go e.cpuProfile(*profile)
	}
	// The load generator runs in a process of its own.
	where := "devkafka on disk"
	if e.secure {
		where = "the Kafka of -brokers"
	}
	if err := e.printLatencies(rates, where); err != nil {
		return err
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		e.printMetrics("rewind_processor_batch_seconds_sum", "rewind_processor_batch_seconds_count", "rewind_processor_transactions_total")
	}

	if err := e.produceCommands(ctx, *many, *many); err != nil {
		return err
	}
	tpMany, err := e.drain(ctx, *many)
	if err != nil {
		return err
	}
	fmt.Printf("exactly-once throughput, %dk streams  %9.0f commands/s (%.2f× the 1k-stream rate)\n", *many/1000, tpMany, tpMany/tp1k)
	if *heapProf != "" && !aloneProfiled() {
		e.fetchProfile("heap", *heapProf)
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		e.printMetrics("go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
			"go_memstats_sys_bytes", "go_memstats_stack_sys_bytes", "process_resident_memory_bytes")
	}
	fmt.Printf("processor RSS after %dk streams        %9.0f MiB (peak %.0f MiB)\n", *many/1000, rss(e.proc.Pid(), "VmRSS"), rss(e.proc.Pid(), "VmHWM"))

	fail, err := e.failover(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("failover, SIGKILL → first commit        %9.0f ms\n", float64(fail.Microseconds())/1000)

	rps, p50, p99, err := e.ingestLoad(*httpRequests, 32)
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
	return auditCase(filepath.Join(dir, "audit")) // a broker of its own
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
