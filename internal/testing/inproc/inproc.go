package testkit

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/processor"
)

// InProcess is a processor running in the test's own process.
type InProcess struct {
	*processor.Processor
	cancel context.CancelFunc
	done   chan error
}

// RunProcessor runs a processor in-process with test settings: the
// Schedule kind, a registry of its own, warnings logged to the test, a
// 3 s session and batches of 200. options adjust the config before it is
// used. The caller stops it with Stop.
func RunProcessor(t testing.TB, brokers string, partitions int32, instance, dir string, options ...func(*processor.Config)) *InProcess {
	t.Helper()
	log := Logger(t, slog.LevelWarn)
	cfg := processor.Config{
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers), kafkaconf.Logger(log)}, InstanceID: instance, DataDir: dir, Partitions: partitions,
		Kind: schedule.Kind, Keyring: Keyring(t), Erasures: Signer(t), Registerer: prometheus.NewRegistry(),
		Logger:         log,
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
	r := &InProcess{Processor: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	return r
}

// Stop cancels the processor, waits for Run to return and closes its
// store; it returns Run's error.
func (r *InProcess) Stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		if cerr := r.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("processor did not stop within 30s")
		return nil
	}
}

// Exited receives Run's error once, when Run returns on its own (a crash
// hook); the caller then closes the processor.
func (r *InProcess) Exited() <-chan error { return r.done }

// Alive is a check for WaitResults: it fails the test if the processor
// has returned.
func (r *InProcess) Alive(t testing.TB) func() {
	return func() {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("processor stopped: %v", err)
		default:
		}
	}
}

// Logger logs at level and above to the test's log.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

// testWriter sends a logger's lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
