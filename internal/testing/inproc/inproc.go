// Package inproc runs a processor in the test's own process, with test
// settings, for the tests that need its hooks or its registry; the tests
// that need a process run the binaries (testkit.Start).
package inproc

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/processor"
)

// Processor is a processor running in the test's own process.
type Processor struct {
	*processor.Processor
	cancel context.CancelFunc
	done   chan error
}

// Run runs a processor in-process with test settings: the
// Schedule kind, a registry of its own, warnings logged to the test, a
// 3 s session and batches of 200. options adjust the config before it is
// used. The caller stops it with Stop.
func Run(t testing.TB, brokers string, partitions int32, instance, dir string, options ...func(*processor.Config)) *Processor {
	t.Helper()
	log := testkit.Logger(t, slog.LevelWarn)
	cfg := processor.Config{
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers), kafkaconf.Logger(log)}, InstanceID: instance, DataDir: dir, Partitions: partitions,
		Kind: schedule.Kind, Keyring: testkit.Keyring(t), Erasures: testkit.Signer(t), Registerer: prometheus.NewRegistry(),
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
	r := &Processor{Processor: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	return r
}

// Stop cancels the processor, waits for Run to return and closes its
// store; it returns Run's error.
func (r *Processor) Stop(t testing.TB) error {
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
func (r *Processor) Exited() <-chan error { return r.done }

// Alive is a check for testkit.WaitResults: it fails the test if the processor
// has returned.
func (r *Processor) Alive(t testing.TB) func() {
	return func() {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("processor stopped: %v", err)
		default:
		}
	}
}
