// Command query serves Rewind's read model: schedules now and as they
// were (time travel), their audit logs and timelines, range and visitor
// lists, and the operator UI at /ui/. It folds schedule-events, and
// writes an access record to schedule-access before each answer that
// gives out data.
// Flags may also be set as REWIND_* environment variables
// (-data-dir → REWIND_DATA_DIR). It serves HTTPS with -tls-cert; the
// tokens file and the certificate are re-read when they change and on
// SIGHUP.
package main

import (
	"context"
	"flag"
	"net/http"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/query"
)

func main() { cli.ServiceMain("query", run) }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	kafka := kafkaconf.Register(fs) // -brokers, -kafka-tls…, -kafka-sasl…
	frontFlags := cli.RegisterFront(fs, "127.0.0.1:8082", "address of the API, /ui/, /metrics, /healthz and /readyz")
	dataDir := fs.String("data-dir", "data/query", "Pebble read model directory (a cache: deleting it rebuilds it)")
	maxWaiting := fs.Int("max-waiting", api.DefaultMaxWaiting, "most requests waiting for ?minVersion= at once; more are answered 503 with Retry-After")
	snapshotEvery := fs.Int("snapshot-every", 64, "events between two state snapshots: the most a time-travel answer folds")
	// A catch-up allocates fetch buffers and batches faster than the
	// default GC pacing returns them; the limit keeps RSS near budget.
	memoryLimit := cli.RegisterMemoryLimit(fs, 400, "soft limit of the Go heap in MiB (GOMEMLIMIT); Pebble's cache comes on top")
	accessTimeout := fs.Duration("access-timeout", access.DefaultTimeout, "longest wait for an access record's acknowledgement; past it, reads answer 503 audit_unavailable until records reach Kafka again")
	accessIndex := fs.Bool("access-index", true, "fold schedule-access into the indexes GET /v1/access answers from; with many replicas, leave it to those that serve auditors (each indexing replica folds every replica's records)")
	keyring := cli.RegisterKEK(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	memoryLimit()
	ring, err := keyring()
	if err != nil {
		return err
	}
	front, err := frontFlags.Load()
	if err != nil {
		return err
	}
	log, reg := front.Log, front.Registry
	kafkaOpts, err := kafka.Connect(ctx, log)
	if err != nil {
		return err
	}
	view, err := query.Open(query.Config{
		DataDir: *dataDir, SnapshotEvery: *snapshotEvery, MaxWaiting: *maxWaiting, Logger: log, Registerer: reg, Keyring: ring, AccessTimeout: *accessTimeout, NoAccessIndex: !*accessIndex,
		ClientOpts: kafkaconf.ClientOpts(kafkaOpts, log, nil, ""), Hooks: []kgo.Hook{kafkaconf.Metrics(reg, "rewind_query_kafka")},
	})
	if err != nil {
		return err
	}
	defer view.Close() // after Run has returned: the errgroup waits
	mux := http.NewServeMux()
	view.Routes(mux, front.Tokens)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return view.Run(gctx) })
	g.Go(func() error { front.Watch(gctx); return nil })
	g.Go(func() error { return front.Serve(gctx, mux, view.Ready, 0) })
	scheme := "http://"
	if front.Cert != nil {
		scheme = "https://"
	}
	log.Info("query listening", "addr", front.Addr, "ui", scheme+front.Addr+"/ui/", "tokens", front.Tokens.Len())
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("query stopped")
	return nil
}
