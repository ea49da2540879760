package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/promsample"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/topics"
)

const partitions = 4

// stack is devkafka, two processors and ingest as processes.
type stack struct {
	t          *testing.T
	dir, log   string
	kafka      string
	kafkaProc  *testkit.Process
	procs      []*testkit.Process
	procHTTP   []string
	ingest     *testkit.Process
	ingestHTTP string
	token      string
}

func startStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, dir: t.TempDir(), kafka: testkit.FreeAddr(t), token: "e2e-token"}
	s.log = testkit.LogFile(t, s.dir)
	s.procHTTP = []string{testkit.FreeAddr(t), testkit.FreeAddr(t)}
	s.ingestHTTP = testkit.FreeAddr(t)
	testkit.WriteFile(t, filepath.Join(s.dir, "tokens"), api.TokenLine(s.token, "clinic-e2e", "desk-1", api.ScopeAll))
	s.start()
	return s
}

// start starts every process on the stack's addresses and directories.
func (s *stack) start() {
	t := s.t
	t.Helper()
	s.kafkaProc = testkit.StartKafka(t, s.log, s.kafka, filepath.Join(s.dir, "kafka"))
	testkit.Topics(t, s.kafka, partitions)
	s.procs = nil
	for i, addr := range s.procHTTP {
		s.procs = append(s.procs, testkit.Start(t, "processor", s.log, "-brokers", s.kafka, "-instance-id", fmt.Sprint("p", i),
			"-data-dir", filepath.Join(s.dir, fmt.Sprint("p", i)), "-http", addr, "-partitions", fmt.Sprint(partitions), "-max-batch", "300",
			"-standby-replicas", "1")) // as in docker-compose.yml
	}
	s.ingest = testkit.Start(t, "ingest", s.log, "-brokers", s.kafka, "-http", s.ingestHTTP, "-tokens", filepath.Join(s.dir, "tokens"),
		"-data-dir", filepath.Join(s.dir, "ingest"))
	waitReady(t, s.ingestHTTP)
}

// restart starts the stack again after every process stopped.
func (s *stack) restart() { s.start() }

func waitReady(t *testing.T, addr string) {
	t.Helper()
	if !testkit.Eventually(60*time.Second, func() bool { return proc.Ready(addr) }) {
		t.Fatalf("%s not ready after 60s", addr)
	}
}

// TestSIGTERMUnderLoad stops a processor and then ingest with SIGTERM
// while commands flow in from a producer and from HTTP clients. Both must
// exit cleanly and quickly; no HTTP request in flight may be cut off; the
// remaining processor takes over the partitions; and I1–I3 hold on the
// topics once every command has its result.
func TestSIGTERMUnderLoad(t *testing.T) {
	s := startStack(t)
	// Producer load: 1,500 visits, interleaved, over about six seconds.
	recs := testkit.Interleave("clinic-e2e", 1500, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	produced := testkit.Trickle(testkit.Producer(t, s.kafka), recs, 200, 100*time.Millisecond, 3*time.Minute)

	// HTTP load: 16 clients, each reserving new schedules until ingest
	// stops listening.
	load := startHTTPLoad(&apiclient.Client{Ingest: "http://" + s.ingestHTTP, Token: s.token, HTTP: &http.Client{Timeout: 60 * time.Second}})
	answered := &load.answered
	// The HTTP load runs before anything stops.
	if !testkit.Eventually(30*time.Second, func() bool { return answered.Load() >= 20 }) {
		t.Fatalf("%d HTTP commands answered in 30s; the load is not running", answered.Load())
	}
	// Both processors share the partitions before p0 goes.
	var a, b float64
	shared := testkit.Eventually(30*time.Second, func() bool {
		a, b = metric(t, s.procHTTP[0], "rewind_processor_partitions_owned"), metric(t, s.procHTTP[1], "rewind_processor_partitions_owned")
		return a >= 1 && b >= 1 && a+b == partitions
	})
	if !shared {
		t.Fatalf("partitions owned: p0 %v, p1 %v; want them shared", a, b)
	}
	took := testkit.StopCleanly(t, s.procs[0], syscall.SIGTERM, 30*time.Second)
	t.Logf("processor p0 stopped %s after SIGTERM", took.Round(time.Millisecond))
	// It left the group on its way out: p1 owns every partition well
	// before p0's session (10 s) could have timed out.
	handover := time.Now()
	if !testkit.Eventually(5*time.Second, func() bool { return metric(t, s.procHTTP[1], "rewind_processor_partitions_owned") == partitions }) {
		t.Fatalf("p1 owns %v partitions 5s after p0 stopped: p0 did not leave the group", metric(t, s.procHTTP[1], "rewind_processor_partitions_owned"))
	}
	t.Logf("p1 owned all %d partitions %s after p0 exited", partitions, time.Since(handover).Round(time.Millisecond))
	// p1 answers HTTP load alone before ingest stops.
	alone := answered.Load()
	if !testkit.Eventually(30*time.Second, func() bool { return answered.Load() >= alone+20 }) {
		t.Fatalf("%d HTTP commands answered by p1 alone in 30s", answered.Load()-alone)
	}
	took = testkit.StopCleanly(t, s.ingest, syscall.SIGTERM, 45*time.Second)
	t.Logf("ingest stopped %s after SIGTERM (%d HTTP commands answered)", took.Round(time.Millisecond), answered.Load())
	load.halt()
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if load.broken.Load() > 0 {
		t.Fatalf("%d HTTP requests were cut off or failed by the shutdown; one: %v", load.broken.Load(), load.brokenErr.Load())
	}
	if answered.Load() == 0 {
		t.Fatal("no HTTP command was answered: the HTTP load did not run")
	}
	t.Logf("%d HTTP requests found ingest gone, and sent nothing", load.refused.Load())

	// The remaining processor handles everything, p0's partitions too.
	n := commandCount(t, s.kafka)
	testkit.WaitResults(t, s.kafka, int(n), 2*time.Minute, nil)
	testkit.StopCleanly(t, s.procs[1], syscall.SIGTERM, 30*time.Second)
	log := logcheck.ReadAll(t, s.kafka)
	logcheck.Invariants(t, log)
	if len(log.Commands) < len(recs)+int(answered.Load()) {
		t.Fatalf("%d commands in the topic, want at least %d", len(log.Commands), len(recs)+int(answered.Load()))
	}
}

// httpLoad is HTTP clients reserving new schedules until halted,
// counting what happened to their requests.
type httpLoad struct {
	// answered got an outcome, refused found ingest gone (nothing was
	// sent), broken were cut off or failed otherwise.
	answered, refused, broken atomic.Int64
	brokenErr                 atomic.Value
	stop                      chan struct{}
	wg                        sync.WaitGroup
}

// startHTTPLoad starts 16 clients. Idempotency-Key makes Go's client
// retry a request that raced with the closing of an idle connection.
func startHTTPLoad(client *apiclient.Client) *httpLoad {
	l := &httpLoad{stop: make(chan struct{})}
	for c := range 16 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := fmt.Sprintf("http-%d-%d", c, i)
				res, err := client.Send(context.Background(), apiclient.Command{Schedule: id, Type: "Reserve", IdempotencyKey: id,
					Data: []byte(`{"visitorId":"v",` + e2eSlot + `}`)})
				switch {
				case err == nil:
					if res.Status == topics.StatusRejected {
						l.broken.Add(1)
						l.brokenErr.Store(fmt.Errorf("%s: rejected %s", id, res.Code))
					} else {
						l.answered.Add(1)
					}
				case errors.Is(err, syscall.ECONNREFUSED):
					l.refused.Add(1)
					time.Sleep(10 * time.Millisecond)
				default:
					l.broken.Add(1)
					l.brokenErr.Store(err)
				}
			}
		}()
	}
	return l
}

// halt stops the clients and waits for them.
func (l *httpLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

// metric reads a metric from a service's /metrics (0 when unreachable).
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	return promsample.Scrape("http://" + addr + "/metrics").Value(name)
}

func commandCount(t *testing.T, brokers string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topics.Commands)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}
