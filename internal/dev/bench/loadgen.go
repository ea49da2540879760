package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/topics"
)

// latencyOnMemoryBroker prints the latency at each rate on a devkafka
// that keeps its log in memory, for one member, two members, an earlier
// build and the naive map processor. devkafka with a data dir stalls its whole request
// loop for 100–250 ms a few times a minute (a transaction's End waits
// that long), which no real Kafka does: its log flushes happen off the
// request path. mainCases prints the on-disk broker's figures too.
func (b *Bench) latencyOnMemoryBroker(dir string, rates []float64) error {
	kafka, broker, err := b.startBroker("", nil)
	if err != nil {
		return err
	}
	defer stop(broker)
	e := &env{Bench: b, dir: dir, kafka: kafka}
	// One member (the default) against two, one committing while the
	// other decides, and the naive map processor as the baseline,
	// interleaved: a run measured later on the same broker was faster
	// either way, so each is measured twice, in turns. Every run has
	// streams of its own, so the naive processor's empty maps, and the
	// data dir each run of Rewind starts with, hold none of them.
	// The build in <-bin>/before, if make bench built one, runs in the
	// same turns: what a change to the command path did to the tail.
	runs := []string{"1", "2", "naive"}
	if b.hasBuild("before") {
		runs = []string{"1", "2", "before", "naive"}
	}
	for round := range 2 {
		for _, members := range runs {
			e.dir = filepath.Join(dir, fmt.Sprintf("round%d-members%s", round, members))
			what := "broker in memory, -members " + members
			switch members {
			case "naive":
				what = "broker in memory, naive map processor"
				e.startNaive()
			case "before":
				what = "broker in memory, the build of BENCH_BEFORE"
				e.startBuild("before")
			default:
				e.startProcessor("-members", members)
			}
			err := e.waitReady(time.Minute)
			if err == nil {
				// A short warm-up run takes the group's join out of the
				// measured ones.
				_, _, err = e.latencyRun(1000, 3)
			}
			if err == nil {
				err = e.printLatencies(rates, what)
			}
			stop(e.proc)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *env) printLatencies(rates []float64, what string) error {
	for _, rate := range rates {
		p50, p99, err := e.latencyAt(rate)
		if err != nil {
			return err
		}
		fmt.Printf("produce → committed result at %5.0f/s  p50 %.1f ms, p99 %.1f ms (%s)\n", rate, p50, p99, what)
	}
	return nil
}

// latencyAt runs the load generator at rate and returns the latency from
// produce to committed result, p50 and p99 in ms.
func (e *env) latencyAt(rate float64) (p50, p99 float64, err error) { return e.latencyRun(rate, 10) }

// runs counts the load generator's runs.
var runs int

func (e *env) latencyRun(rate float64, seconds int) (p50, p99 float64, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	// Every run sends new command ids, on new streams: a repeated id
	// would be answered as a duplicate, cheaper than a command.
	runs++
	tag := "lat" + strconv.Itoa(int(rate)) + "-" + strconv.Itoa(seconds) + "-" + strconv.Itoa(runs)
	cmd := exec.Command(self, "-loadgen", "-loadgen-brokers", e.kafka, "-loadgen-rate", fmt.Sprint(rate),
		"-loadgen-seconds", strconv.Itoa(seconds), "-loadgen-tag", tag, fmt.Sprintf("-loadgen-secure=%v", e.secure))
	cmd.Env = e.childEnv()
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("loadgen: %w", err)
	}
	_, err = fmt.Sscan(string(out), &p50, &p99)
	return p50, p99, err
}

// runLoadgen produces commands at a fixed rate over 5,000 schedules and
// prints the p50 and p99 of produce → committed result, in ms.
func (b *Bench) runLoadgen() error {
	ctx := context.Background()
	base := []kgo.Opt{kgo.SeedBrokers(b.loadBrokers)}
	if b.loadSecure {
		b.kafkaFlags.Brokers = b.loadBrokers
		var err error
		if base, err = b.kafkaFlags.Opts(); err != nil {
			return err
		}
	}
	cons, err := kgo.NewClient(append(base, kgo.ConsumeTopics(topics.Results),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(20*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(append(base, kgo.ProducerLinger(0))...)
	if err != nil {
		return err
	}
	defer prod.Close()
	// Resolve the end offsets before producing, so nothing is missed.
	warm, cancel := context.WithTimeout(ctx, time.Second)
	cons.PollRecords(warm, 1)
	cancel()
	n := int(b.loadRate * float64(b.loadSeconds))
	sent := make([]time.Time, n)
	var mu sync.Mutex
	go func() {
		interval := time.Duration(float64(time.Second) / b.loadRate)
		next := time.Now()
		for i := range n {
			stream := i % 5000
			typ, data := "Reschedule", slot(i)
			if i < 5000 {
				typ, data = "Reserve", `{"visitorId":"v","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`
			}
			now := time.Now()
			m := aggregate.Meta{ID: b.loadTag + "-" + strconv.Itoa(i), Tenant: "bench", Stream: b.loadTag + "-" + strconv.Itoa(stream),
				Initiator: "bench", Time: now}
			mu.Lock()
			sent[i] = now
			mu.Unlock()
			prod.Produce(ctx, topics.CommandRecord(typ, m, []byte(data)), nil)
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}()
	lat := make([]float64, 0, n)
	deadline := time.Now().Add(time.Duration(b.loadSeconds)*time.Second + 30*time.Second)
	for len(lat) < n && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := cons.PollFetches(pctx)
		pcancel()
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			id, _, ok := topics.ResultHead(r)
			i, err := strconv.Atoi(strings.TrimPrefix(id, b.loadTag+"-"))
			if !ok || err != nil || !strings.HasPrefix(id, b.loadTag+"-") || i >= n {
				return
			}
			mu.Lock()
			at := sent[i]
			mu.Unlock()
			lat = append(lat, float64(now.Sub(at).Microseconds())/1000)
		})
	}
	if len(lat) < n {
		return fmt.Errorf("%d of %d results seen", len(lat), n)
	}
	p50, p99 := p50p99(lat)
	fmt.Printf("%.2f %.2f\n", p50, p99)
	return nil
}
