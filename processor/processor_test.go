package processor_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testkit"
	"github.com/rewind/rewind/processor"
)

const testPartitions = 4

// running is a processor started in-process.
type running struct {
	p      *processor.Processor
	cancel context.CancelFunc
	done   chan error
}

// start runs a processor in-process with test settings; options adjust
// the config before it is used.
func start(t *testing.T, brokers, instance, dir string, options ...func(*processor.Config)) *running {
	t.Helper()
	cfg := processor.Config{
		Brokers: []string{brokers}, InstanceID: instance, DataDir: dir, Partitions: testPartitions,
		Kind: schedule.Kind, Registerer: prometheus.NewRegistry(),
		Logger:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SessionTimeout: 3 * time.Second, TransactionTimeout: 10 * time.Second, MaxBatch: 200,
	}
	for _, o := range options {
		o(&cfg)
	}
	p, err := processor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	return r
}

// stop cancels the processor, waits for it and closes its store.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		if cerr := r.p.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("processor did not stop within 30s")
		return nil
	}
}

// alive fails the test if the processor has returned.
func (r *running) alive(t *testing.T) func() {
	return func() {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("processor stopped: %v", err)
		default:
		}
	}
}

func TestSteadyLoad(t *testing.T) {
	_, brokers := testkit.Cluster(t)
	dir := filepath.Join(t.TempDir(), "p1")
	p := start(t, brokers, "p1", dir)
	recs := testkit.Interleave("clinic-1", 2000, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, p.alive(t))
	if err := p.stop(t); err != nil {
		t.Fatal(err)
	}
	log := testkit.ReadAll(t, brokers)
	results := testkit.Invariants(t, log)
	if len(log.Events) != 2000*7 {
		t.Fatalf("want %d events, got %d", 2000*7, len(log.Events))
	}
	if codes := testkit.Codes(results); codes["procedure_in_progress"] != 2000 || len(codes) != 1 {
		t.Fatalf("unexpected rejections %v", codes)
	}
	testkit.StoreMatches(t, schedule.Kind, log, dir)
}

var errCrash = errors.New("injected crash")

// TestCrashPoints crashes the processor after produce and before commit,
// and after the Kafka commit and before the Pebble write, then restarts it
// on the same data dir; the invariants must hold.
func TestCrashPoints(t *testing.T) {
	for _, point := range []string{"before-commit", "after-commit"} {
		t.Run(point, func(t *testing.T) {
			_, brokers := testkit.Cluster(t)
			dir := filepath.Join(t.TempDir(), "p1")
			testkit.Topics(t, brokers, testPartitions)
			recs := testkit.Interleave("clinic-1", 500, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			testkit.Send(t, testkit.Producer(t, brokers), recs)
			for crash := range 4 {
				var batches atomic.Int32
				hook := func() error {
					if batches.Add(1) == 3 {
						return errCrash
					}
					return nil
				}
				hooks := processor.Hooks{BeforeCommit: hook}
				if point == "after-commit" {
					hooks = processor.Hooks{AfterCommit: hook}
				}
				p := start(t, brokers, "p1", dir, withHooks(hooks))
				select {
				case err := <-p.done:
					if !errors.Is(err, errCrash) {
						t.Fatalf("crash %d: %v", crash, err)
					}
					p.p.Close()
				case <-time.After(time.Minute):
					t.Fatalf("crash %d did not happen", crash)
				}
			}
			p := start(t, brokers, "p1", dir)
			testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, p.alive(t))
			if err := p.stop(t); err != nil {
				t.Fatal(err)
			}
			log := testkit.ReadAll(t, brokers)
			testkit.Invariants(t, log)
			if len(log.Events) != 500*7 {
				t.Fatalf("want %d events, got %d", 500*7, len(log.Events))
			}
			testkit.StoreMatches(t, schedule.Kind, log, dir)
		})
	}
}

// testWriter sends logs to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// withHooks sets crash hooks.
func withHooks(h processor.Hooks) func(*processor.Config) {
	return func(c *processor.Config) { c.Hooks = h }
}

// withKind sets the aggregate kind.
func withKind(k aggregate.Kind) func(*processor.Config) {
	return func(c *processor.Config) { c.Kind = k }
}
