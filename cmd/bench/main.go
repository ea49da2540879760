// Command bench measures Rewind on this machine with devkafka as a
// separate process, and prints the numbers of `make bench`: raw produce
// rate, exactly-once throughput and its ratio, latency at 30% load,
// restores from the state topic and by folding the events, standby
// takeover, throughput with 1k and 1M streams, RSS and failover.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/internal/promsample"
	"github.com/rewind/rewind/topics"
)

var (
	binDir       = flag.String("bin", "bin", "directory with devkafka and processor")
	backlog      = flag.Int("backlog", 500000, "commands in the 1k-stream backlog")
	many         = flag.Int("streams", 1000000, "streams in the many-stream backlog (one command each)")
	rawCount     = flag.Int("raw", 500000, "records for the raw produce rate")
	profile      = flag.String("cpuprofile", "", "write a 5 s CPU profile of the processor here")
	httpRequests = flag.Int("requests", 20000, "HTTP requests of the ingest load")
	heapProf     = flag.String("heapprofile", "", "write a heap profile of the processor after the many-stream drain here")
	phase        = flag.String("cpuprofile-phase", "drain", "when to profile: mix, drain (1k streams), latency, cold, fold (a restore folding the events) or preview (the replay preview of the restore case)")
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
	for _, kv := range kafkaFlags.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		os.Setenv(name, value)
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

type env struct {
	dir, kafka string
	// secure is set for the Kafka of -brokers, whose -kafka-* security
	// settings apply; the bench's own devkafkas are plaintext, and the
	// processes it starts on them get none.
	secure   bool
	adm      *kadm.Client
	cl       *kgo.Client
	proc     *exec.Cmd
	procHTTP string
}

func run() error {
	dir, err := os.MkdirTemp("", "rewind-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e := &env{dir: dir, kafka: kafkaFlags.Brokers, secure: kafkaFlags.Brokers != ""}
	if e.kafka == "" {
		e.kafka = freeAddr()
		kafka := exec.Command(filepath.Join(*binDir, "devkafka"), "-addr", e.kafka, "-data-dir", filepath.Join(dir, "kafka"))
		kafka.Stderr = os.Stderr
		if err := kafka.Start(); err != nil {
			return err
		}
		defer kafka.Process.Kill()
		waitListening(e.kafka)
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
	if _, err := topics.Ensure(ctx, e.cl, 12, -1); err != nil {
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
	if *mixStreams > 0 {
		if err := mixCase(dir, raw); err != nil {
			return err
		}
	}
	// Restores of one set of schedules with 1× and 3× the history.
	if *restoreSchedules > 0 {
		if err := restoreCase(dir); err != nil {
			return err
		}
	}
	if *onlyRestore {
		return nil
	}

	// 1k streams: a walk-in, then photo sessions; every command is accepted.
	if err := e.produceCommands(ctx, *backlog, 1000); err != nil {
		return err
	}
	e.startProcessor()
	if *profile != "" && *phase == "drain" {
		go e.cpuProfile(*profile)
	}
	tp1k, err := e.drain(ctx, *backlog)
	if err != nil {
		return err
	}
	fmt.Printf("exactly-once throughput, 1k streams     %9.0f commands/s (%d commands; ratio to raw %.3f)\n", tp1k, *backlog, tp1k/raw)

	if *profile != "" && *phase == "latency" {
		go e.cpuProfile(*profile)
	}
	// The load generator runs in a process of its own.
	rates := []float64{5000, 10000}
	where := "devkafka on disk"
	if e.secure {
		where = "the Kafka of -brokers"
	}
	if err := e.printLatencies(rates, where); err != nil {
		return err
	}
	if err := latencyOnMemoryBroker(filepath.Join(dir, "latency"), rates); err != nil {
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
	if *heapProf != "" {
		e.fetchProfile("heap", *heapProf)
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		e.printMetrics("go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
			"go_memstats_sys_bytes", "go_memstats_stack_sys_bytes", "process_resident_memory_bytes")
	}
	fmt.Printf("processor RSS after %dk streams        %9.0f MiB (peak %.0f MiB)\n", *many/1000, rss(e.proc.Process.Pid, "VmRSS"), rss(e.proc.Process.Pid, "VmHWM"))

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

	if err := e.queryBench(ctx); err != nil {
		return err
	}
	e.proc.Process.Signal(syscall.SIGTERM)
	e.proc.Wait()
	return nil
}

func (e *env) rawRate(ctx context.Context) (float64, error) {
	if _, err := e.adm.CreateTopic(ctx, 12, -1, nil, "bench-raw"); err != nil {
		return 0, err
	}
	value := []byte(strings.Repeat("x", 200))
	start := time.Now()
	for i := range *rawCount {
		e.cl.Produce(ctx, &kgo.Record{Topic: "bench-raw", Key: []byte(strconv.Itoa(i)), Value: value}, nil)
	}
	if err := e.cl.Flush(ctx); err != nil {
		return 0, err
	}
	return float64(*rawCount) / time.Since(start).Seconds(), nil
}

// produceCommands writes n commands over the given number of streams:
// each stream's first command is a reservation, the rest move it. Every
// one is accepted with exactly one event, and a state keeps its size, so
// the figure measures the processor, not a state that grows per command.
func (e *env) produceCommands(ctx context.Context, n, streams int) error {
	at := time.Now()
	prefix := strconv.FormatInt(at.UnixNano(), 36)
	for i := range n {
		s := i % streams
		typ, data := "Reschedule", slot(i)
		if i < streams {
			typ, data = "Reserve", `{"visitorId":"v`+strconv.Itoa(s)+`","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z","procedures":["botox"]}`
		}
		m := aggregate.Meta{ID: prefix + "-" + strconv.Itoa(i), Tenant: "bench", Stream: prefix + "-" + strconv.Itoa(s), Initiator: "bench", Time: at}
		e.cl.Produce(ctx, topics.CommandRecord(typ, m, []byte(data)), nil)
	}
	return e.cl.Flush(ctx)
}

func (e *env) startProcessor(extra ...string) {
	e.procHTTP = freeAddr()
	// Later flags win: extra may name another instance.
	e.proc = exec.Command(filepath.Join(*binDir, "processor"), append([]string{"-brokers", e.kafka, "-instance-id", "bench-1",
		"-data-dir", filepath.Join(e.dir, "processor"), "-http", e.procHTTP, "-log-level", "warn"}, extra...)...)
	e.proc.Stderr = os.Stderr
	e.proc.Env = e.childEnv()
	if err := e.proc.Start(); err != nil {
		panic(err)
	}
}

// childEnv is the environment of a process the bench starts on e's Kafka:
// without the REWIND_KAFKA_* security settings unless e is secure.
func (e *env) childEnv() []string {
	if e.secure {
		return nil // the bench's own
	}
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "REWIND_KAFKA_") })
}

// committed sums the group's committed offsets and the commands' ends.
func (e *env) committed(ctx context.Context) (done, end int64) {
	offs, err := e.adm.FetchOffsets(ctx, "rewind-processor")
	if err == nil {
		offs.Each(func(o kadm.OffsetResponse) { done += o.At })
	}
	ends, err := e.adm.ListEndOffsets(ctx, topics.Commands)
	if err == nil {
		ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
	}
	return done, end
}

// drain waits until the group has committed every command and returns
// the rate from the first commit of this backlog to the last.
func (e *env) drain(ctx context.Context, n int) (float64, error) {
	before, end := e.committed(ctx)
	var first time.Time
	deadline := time.Now().Add(20 * time.Minute)
	for time.Now().Before(deadline) {
		done, _ := e.committed(ctx)
		if first.IsZero() && done > before {
			first = time.Now()
			before = done
		}
		if done >= end {
			return float64(end-before) / time.Since(first).Seconds(), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("backlog of %d not drained", n)
}

// waitReady polls the processor's /readyz until it answers 200.
func (e *env) waitReady(timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + e.procHTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
	}
	return fmt.Errorf("processor not ready within %v", timeout)
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
			m := aggregate.Meta{ID: fmt.Sprint("fo-", i), Tenant: "bench", Stream: fmt.Sprint("fo-", i), Initiator: "bench", Time: time.Now()}
			e.cl.Produce(ctx, topics.CommandRecord("CheckIn", m, []byte(`{"channel":"desk","visitorId":"v"}`)), nil)
		}
	}()
	time.Sleep(time.Second)
	e.proc.Process.Kill()
	e.proc.Wait()
	killed := time.Now()
	before, _ := e.committed(ctx)
	e.startProcessor()
	for time.Since(killed) < time.Minute {
		if done, _ := e.committed(ctx); done > before {
			return time.Since(killed), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("no commit within a minute of the restart")
}

func rss(pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(addr string) {
	for range 500 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpuProfile saves a CPU profile of the processor, taken once it runs.
func (e *env) cpuProfile(path string) {
	time.Sleep(time.Second)
	e.fetchProfile("profile?seconds=5", path)
}

// fetchProfile saves one of the processor's /debug/pprof profiles.
func (e *env) fetchProfile(name, path string) {
	resp, err := http.Get("http://" + e.procHTTP + "/debug/pprof/" + name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// slot is the body of a Reschedule to one of 48 half-hour slots.
func slot(i int) string {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%48) * 30 * time.Minute)
	return `{"start":"` + start.Format(time.RFC3339) + `","end":"` + start.Add(30*time.Minute).Format(time.RFC3339) + `"}`
}

// printMetrics prints the processor's metric lines with the given
// prefixes (BENCH_DEBUG=1).
func (e *env) printMetrics(prefixes ...string) {
	m := promsample.Scrape("http://" + e.procHTTP + "/metrics")
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				fmt.Println("   ", k, m[k])
			}
		}
	}
}

// ingestLoad starts ingest and sends n Reserve requests from c concurrent
// clients on loopback, each waiting for its outcome; it returns
// requests/s and the latency quantiles in ms.
func (e *env) ingestLoad(n, c int) (rps, p50, p99 float64, err error) {
	const token = benchToken
	tokens, err := e.tokensFile()
	if err != nil {
		return 0, 0, 0, err
	}
	addr := freeAddr()
	ing := exec.Command(filepath.Join(*binDir, "ingest"), "-brokers", e.kafka, "-http", addr, "-tokens", tokens, "-log-level", "warn")
	ing.Stderr = os.Stderr
	if err := ing.Start(); err != nil {
		return 0, 0, 0, err
	}
	defer func() { ing.Process.Signal(syscall.SIGTERM); ing.Wait() }()
	waitListening(addr)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	body := `{"visitorId":"v","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`
	lat := make([][]float64, c)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += c {
				req, _ := http.NewRequest("POST", fmt.Sprintf("http://%s/v1/schedules/http-%d/commands/Reserve", addr, i), strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				lat[w] = append(lat[w], float64(time.Since(t0).Microseconds())/1000)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 || failed.Load() > int64(n/100) {
		return 0, 0, 0, fmt.Errorf("ingest load: %d of %d requests failed", failed.Load(), n)
	}
	slices.Sort(all)
	return float64(len(all)) / took.Seconds(), all[len(all)/2], all[len(all)*99/100], nil
}

// benchToken is the bearer token of the bench tenant, for ingest and query.
const benchToken = "bench-token"

func (e *env) tokensFile() (string, error) {
	tokens := filepath.Join(e.dir, "tokens")
	sum := sha256.Sum256([]byte(benchToken))
	return tokens, os.WriteFile(tokens, []byte(hex.EncodeToString(sum[:])+" bench bench\n"), 0o600)
}

// queryBench measures the read side: how fast a new query service folds
// everything the processor wrote, time travel on a 10,000-event stream,
// and day lists over 100,000 schedules.
func (e *env) queryBench(ctx context.Context) error {
	const longEvents, rangeSchedules, days = 10000, 100000, 30
	day0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	// Two streams of 10,000 events, one second apart: a reservation
	// rescheduled 9,999 times (the state keeps its size), and a walk-in
	// with 9,999 photo sessions (the state grows by one each time).
	for i := range longEvents {
		typ, data := "Reschedule", slot(i)
		if i == 0 {
			typ, data = "Reserve", `{"visitorId":"v-long","start":"2026-04-01T10:00:00Z","end":"2026-04-01T11:00:00Z"}`
		}
		m := aggregate.Meta{ID: "long-" + strconv.Itoa(i), Tenant: "bench", Stream: "long-visit", Initiator: "bench",
			Time: at.Add(time.Duration(i) * time.Second)}
		e.cl.Produce(ctx, topics.CommandRecord(typ, m, []byte(data)), nil)
		typ, data = "TakePhotos", `{"kind":"after","count":1}`
		if i == 0 {
			typ, data = "CheckIn", `{"channel":"desk","visitorId":"v-photos"}`
		}
		m.ID, m.Stream = "photos-"+strconv.Itoa(i), "photo-visit"
		e.cl.Produce(ctx, topics.CommandRecord(typ, m, []byte(data)), nil)
	}
	// 100k reservations over 30 days, 8:00 to 18:00, 15 to 120 minutes.
	for i := range rangeSchedules {
		start := day0.Add(time.Duration(i%days)*24*time.Hour + 8*time.Hour + time.Duration((i*7919)%600)*time.Minute)
		end := start.Add(time.Duration(15+(i*31)%106) * time.Minute)
		data := `{"visitorId":"rv` + strconv.Itoa(i%20000) + `","start":"` + start.Format(time.RFC3339) + `","end":"` + end.Format(time.RFC3339) + `"}`
		m := aggregate.Meta{ID: "range-" + strconv.Itoa(i), Tenant: "bench", Stream: "range-" + strconv.Itoa(i), Initiator: "bench", Time: at}
		e.cl.Produce(ctx, topics.CommandRecord("Reserve", m, []byte(data)), nil)
	}
	if err := e.cl.Flush(ctx); err != nil {
		return err
	}
	if _, err := e.drain(ctx, 2*longEvents+rangeSchedules); err != nil {
		return err
	}

	tokens, err := e.tokensFile()
	if err != nil {
		return err
	}
	addr := freeAddr()
	start := time.Now()
	q := exec.Command(filepath.Join(*binDir, "query"), "-brokers", e.kafka, "-http", addr, "-tokens", tokens,
		"-data-dir", filepath.Join(e.dir, "query"), "-log-level", "warn")
	q.Stderr = os.Stderr
	if err := q.Start(); err != nil {
		return err
	}
	defer func() { q.Process.Signal(syscall.SIGTERM); q.Wait() }()
	waitListening(addr)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 15*time.Minute {
			return fmt.Errorf("query not ready after 15 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	applied := metricValue("http://"+addr+"/metrics", "rewind_query_events_applied_total")
	fmt.Printf("query catch-up (cold, %.0f events)     %9.0f events/s\n", applied, applied/took.Seconds())
	fmt.Printf("query RSS after catch-up                %9.0f MiB (peak %.0f MiB)\n", rss(q.Process.Pid, "VmRSS"), rss(q.Process.Pid, "VmHWM"))

	client := &http.Client{}
	get := func(path string) (float64, error) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+benchToken)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return float64(time.Since(t0).Microseconds()) / 1000, err
	}
	p := func(xs []float64) (float64, float64) {
		slices.Sort(xs)
		return xs[len(xs)/2], xs[len(xs)*99/100]
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, stream := range []string{"long-visit", "photo-visit"} {
		if _, err := get(fmt.Sprintf("/v1/schedules/%s?minVersion=%d&wait=30s", stream, longEvents)); err != nil {
			return err
		}
		var byVersion, byInstant []float64
		for range 2000 {
			ms, err := get(fmt.Sprintf("/v1/schedules/%s?version=%d", stream, 1+rng.IntN(longEvents)))
			if err != nil {
				return err
			}
			byVersion = append(byVersion, ms)
			t := at.Add(time.Duration(rng.Int64N(int64(longEvents) * int64(time.Second))))
			ms, err = get("/v1/schedules/" + stream + "?at=" + t.Format(time.RFC3339Nano))
			if err != nil {
				return err
			}
			byInstant = append(byInstant, ms)
		}
		what := "rescheduled 10k times, fixed-size state"
		if stream == "photo-visit" {
			what = "10k photo sessions, state grows to 700 KB"
		}
		v50, v99 := p(byVersion)
		a50, a99 := p(byInstant)
		fmt.Printf("time travel, %s:\n", what)
		fmt.Printf("  ?version= p50 %.2f ms, p99 %.2f ms; ?at= p50 %.2f ms, p99 %.2f ms\n", v50, v99, a50, a99)
	}
	var ranges []float64
	for range 1000 {
		from := day0.Add(time.Duration(rng.IntN(days)) * 24 * time.Hour)
		ms, err := get("/v1/schedules?limit=50&from=" + from.Format(time.RFC3339) + "&to=" + from.Add(24*time.Hour).Format(time.RFC3339))
		if err != nil {
			return err
		}
		ranges = append(ranges, ms)
	}
	a, b := p(ranges)
	fmt.Printf("day list over 100k schedules (50/page)  p50 %.2f ms, p99 %.2f ms\n", a, b)
	return nil
}

// metricValue reads one unlabeled metric from a /metrics page.
func metricValue(url, name string) float64 { return promsample.Scrape(url)[name] }
