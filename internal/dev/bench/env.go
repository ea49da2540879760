package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/internal/testing/promsample"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/topics"
)

// env is one broker of the bench, the processor it runs there, and the
// helpers every phase uses.
type env struct {
	*Bench
	dir, kafka string
	// secure is set for the Kafka of -brokers, whose -kafka-* security
	// settings apply; the bench's own devkafkas are plaintext, and the
	// processes it starts on them get none.
	secure   bool
	adm      *kadm.Client
	cl       *kgo.Client
	proc     *proc.Process
	procHTTP string
	// broker is the devkafka the bench started, nil on the Kafka of
	// -brokers.
	broker *proc.Process
}

// close stops what e runs: its processor (whichever runs last: failover
// replaces it), its client and its devkafka.
func (e *env) close() {
	if e.proc != nil {
		stop(e.proc)
	}
	if e.cl != nil {
		e.cl.Close()
	}
	if e.broker != nil {
		stop(e.broker)
	}
}

// brokerCPU is the CPU time e's devkafka has used so far, 0 on an
// external Kafka.
func (e *env) brokerCPU() float64 {
	if e.broker == nil {
		return 0
	}
	return cpuSeconds(e.broker.Pid())
}

func (e *env) rawRate(ctx context.Context) (float64, error) {
	if _, err := e.adm.CreateTopic(ctx, 12, -1, nil, "bench-raw"); err != nil {
		return 0, err
	}
	value := []byte(strings.Repeat("x", 200))
	start := time.Now()
	for i := range e.rawCount {
		e.cl.Produce(ctx, &kgo.Record{Topic: "bench-raw", Key: []byte(strconv.Itoa(i)), Value: value}, nil)
	}
	if err := e.cl.Flush(ctx); err != nil {
		return 0, err
	}
	return float64(e.rawCount) / time.Since(start).Seconds(), nil
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

// startProcessor starts the processor of -bin with the bench's flags and
// extra.
func (e *env) startProcessor(extra ...string) { e.startBuild("", extra...) }

// hasBuild reports whether the directory build under -bin holds a
// processor (make bench builds BENCH_BEFORE into "before").
func (b *Bench) hasBuild(build string) bool {
	_, err := os.Stat(filepath.Join(b.binDir, build, "processor"))
	return err == nil
}

// startBuild starts the processor in the directory build under -bin.
func (e *env) startBuild(build string, extra ...string) {
	e.procHTTP = freeAddr()
	// Later flags win: extra may name another instance.
	e.proc = e.start(filepath.Join(e.binDir, build, "processor"), append([]string{"-brokers", e.kafka, "-instance-id", "bench-1",
		"-data-dir", filepath.Join(e.dir, "processor"), "-http", e.procHTTP, "-log-level", "warn"}, extra...)...)
}

// start starts a binary on e's Kafka, its errors on the bench's stderr.
func (e *env) start(path string, args ...string) *proc.Process {
	p, err := proc.Start(proc.Spec{Path: path, Args: args, Env: e.childEnv(), Stderr: os.Stderr})
	if err != nil {
		panic(err)
	}
	return p
}

// stop ends a process the bench started, with SIGTERM: a devkafka must
// keep what it committed, and a processor's clean exit is part of what
// the next phase starts from.
func stop(p *proc.Process) {
	if err := p.Stop(time.Minute); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
}

// startBroker starts devkafka on a free address with its log in dataDir
// ("" keeps it in memory), its output to stdout (nil: discarded) and its
// errors on the bench's stderr, and waits until it listens.
func (b *Bench) startBroker(dataDir string, stdout io.Writer, extra ...string) (string, *proc.Process, error) {
	addr := freeAddr()
	p, err := proc.Start(proc.Spec{Path: filepath.Join(b.binDir, "devkafka"),
		Args: append([]string{"-addr", addr, "-data-dir", dataDir}, extra...), Stdout: stdout, Stderr: os.Stderr})
	if err != nil {
		return "", nil, err
	}
	if err := p.WaitFor(context.Background(), 30*time.Second, func() bool { return proc.Listening(addr) }); err != nil {
		stop(p)
		return "", nil, err
	}
	return addr, p, nil
}

// newEnv starts a devkafka of its own in dir (its output to brokerOut,
// nil discards it; brokerArgs after its flags), a client on it and
// Rewind's topics. The caller MUST call done, which stops them.
func (b *Bench) newEnv(dir string, brokerOut io.Writer, brokerArgs ...string) (e *env, done func(), err error) {
	kafka, broker, err := b.startBroker(filepath.Join(dir, "kafka"), brokerOut, brokerArgs...)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))
	if err != nil {
		stop(broker)
		return nil, nil, err
	}
	done = func() { cl.Close(); stop(broker) }
	if _, err := topics.Ensure(context.Background(), cl, topics.Layout{}); err != nil {
		done()
		return nil, nil, err
	}
	return &env{Bench: b, dir: dir, kafka: kafka, adm: kadm.NewClient(cl), cl: cl, broker: broker}, done, nil
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
	offs, err := e.adm.FetchOffsets(ctx, processor.DefaultGroup)
	if err == nil {
		offs.Each(func(o kadm.OffsetResponse) { done += o.At })
	}
	ends, err := e.adm.ListEndOffsets(ctx, topics.Commands)
	if err == nil {
		ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
	}
	return done, end
}

// checkIn is a probe command: a check-in on a stream of its own, named id.
func checkIn(id string) *kgo.Record {
	m := aggregate.Meta{ID: id, Tenant: "bench", Stream: id, Initiator: "bench", Time: time.Now()}
	return topics.CommandRecord("CheckIn", m, []byte(`{"channel":"desk","visitorId":"v"}`))
}

// untilCommitted polls every 5 ms until the group's committed offsets sum
// to want, and returns the time since start; an error once limit has
// passed since start.
func (e *env) untilCommitted(ctx context.Context, want int64, start time.Time, limit time.Duration) (time.Duration, error) {
	for time.Since(start) < limit && ctx.Err() == nil {
		if done, _ := e.committed(ctx); done >= want {
			return time.Since(start), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("the group did not commit %d offsets within %s", want, limit)
}

// errUntimed is drain's answer for a backlog that drained between two of
// its polls: with no interval to time, any rate would be made up.
var errUntimed = errors.New("too small to time; raise it")

// drainPoll is how often drain reads the group's progress.
const drainPoll = 50 * time.Millisecond

// drain waits until the group has committed every command and returns
// the rate from the first commit of this backlog to the last. The clock
// starts at the first progress it sees, so a processor's start-up is not
// in the rate.
func (e *env) drain(ctx context.Context, n int) (float64, error) {
	before, end := e.committed(ctx)
	var first time.Time
	deadline := time.Now().Add(20 * time.Minute)
	var shown time.Time
	for time.Now().Before(deadline) {
		done, _ := e.committed(ctx)
		if first.IsZero() && done > before {
			first = time.Now()
			before = done
		}
		if e.progress && !first.IsZero() && time.Since(shown) >= 10*time.Second {
			shown = time.Now()
			fmt.Fprintf(os.Stderr, "bench: %4.0fs %8d of %d\n", time.Since(first).Seconds(), done-before, end-before)
		}
		if done >= end {
			if end == before {
				return 0, fmt.Errorf("the backlog of %d drained within one %s poll: %w", n, drainPoll, errUntimed)
			}
			return float64(end-before) / time.Since(first).Seconds(), nil
		}
		time.Sleep(drainPoll)
	}
	return 0, fmt.Errorf("backlog of %d not drained", n)
}

// waitReady polls the processor's /readyz until it answers 200.
func (e *env) waitReady(timeout time.Duration) error {
	return e.proc.WaitFor(context.Background(), timeout, func() bool { return proc.Ready(e.procHTTP) })
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

// cpuSeconds is the CPU time a process has used so far (user and
// system), from /proc; 0 when it cannot be read.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is the first, utime and stime the 12th and 13th.
	_, rest, _ := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ, 100 on Linux
}

// p50p99 sorts xs and returns its median and 99th percentile.
func p50p99(xs []float64) (p50, p99 float64) {
	slices.Sort(xs)
	return xs[len(xs)/2], xs[len(xs)*99/100]
}

func freeAddr() string {
	addr, err := proc.FreeAddr()
	if err != nil {
		panic(err)
	}
	return addr
}

// cpuProfile saves a CPU profile of the processor, taken once it runs.
func (e *env) cpuProfile(path string) {
	time.Sleep(e.profileAfter)
	// The commands in the window, to compare profiles per command.
	metrics := "http://" + e.procHTTP + "/metrics"
	before := promsample.Scrape(metrics).Sum("rewind_processor_commands_total")
	e.fetchProfile(fmt.Sprintf("profile?seconds=%d", int(e.profileFor.Seconds())), path)
	fmt.Fprintf(os.Stderr, "bench: the CPU profile covers %.0f commands\n", promsample.Scrape(metrics).Sum("rewind_processor_commands_total")-before)
}

// fetchProfile saves one of the processor's /debug/pprof profiles.
func (e *env) fetchProfile(name, path string) {
	resp, err := http.Get("http://" + e.procHTTP + "/debug/pprof/" + name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "bench: profile:", resp.Status)
		return
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
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

// metricValue reads one unlabeled metric from a /metrics page.
func metricValue(url, name string) float64 { return promsample.Scrape(url)[name] }
