// Command query serves Rewind's read model: schedules now and as they
// were (time travel), their audit logs and timelines, range and visitor
// lists, and the operator UI at /ui/. It folds schedule-events alone.
// Flags may also be set as REWIND_* environment variables
// (-data-dir → REWIND_DATA_DIR). It serves HTTPS with -tls-cert; the
// tokens file and the certificate are re-read when they change and on
// SIGHUP.
package main

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/internal/reload"
	"github.com/rewind/rewind/query"
)

func main() { cli.ServiceMain("query", run) }

func run(args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	kafka := kafkaconf.Register(fs) // -brokers, -kafka-tls…, -kafka-sasl…
	httpAddr := fs.String("http", "127.0.0.1:8082", "address of the API, /ui/, /metrics, /healthz and /readyz")
	httpsFlags := cli.RegisterTLS(fs)
	dataDir := fs.String("data-dir", "data/query", "Pebble read model directory (a cache: deleting it rebuilds it)")
	tokensFile := fs.String("tokens", "data/tokens", "tokens file: <sha256 hex> <tenant> <subject> [read|write|read,write] per line; re-read when it changes and on SIGHUP")
	maxWaiting := fs.Int("max-waiting", api.DefaultMaxWaiting, "most requests waiting for ?minVersion= at once; more are answered 503 with Retry-After")
	snapshotEvery := fs.Int("snapshot-every", 64, "events between two state snapshots: the most a time-travel answer folds")
	// A catch-up allocates fetch buffers and batches faster than the
	// default GC pacing returns them; the limit keeps RSS near budget.
	memoryLimit := cli.RegisterMemoryLimit(fs, 400, "soft limit of the Go heap in MiB (GOMEMLIMIT); Pebble's cache comes on top")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	memoryLimit()
	log := cli.Logger(*logLevel)
	tokens, err := api.LoadTokens(*tokensFile)
	if err != nil {
		return err
	}
	cert, err := httpsFlags.Load()
	if err != nil {
		return err
	}
	reg := cli.Registry()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kafkaOpts, err := kafka.Connect(ctx, log)
	if err != nil {
		return err
	}
	view, err := query.Open(query.Config{
		DataDir: *dataDir, SnapshotEvery: *snapshotEvery, MaxWaiting: *maxWaiting, Logger: log, Registerer: reg,
		ClientOpts: kafkaconf.ClientOpts(kafkaOpts, log, reg, "rewind_query_kafka"),
	})
	if err != nil {
		return err
	}
	defer view.Close() // after Run has returned: the errgroup waits
	mux := http.NewServeMux()
	view.Routes(mux, tokens)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return view.Run(gctx) })
	g.Go(func() error {
		cli.WatchFiles(gctx, log, cert, reload.File{Name: "tokens", Reload: tokens.Reload})
		return nil
	})
	g.Go(func() error {
		return cli.Server{Addr: *httpAddr, Registry: reg, Ready: view.Ready, Mux: mux, TLS: cert, Log: log}.Run(gctx)
	})
	scheme := "http://"
	if cert != nil {
		scheme = "https://"
	}
	log.Info("query listening", "addr", *httpAddr, "ui", scheme+*httpAddr+"/ui/", "tokens", tokens.Len())
	return g.Wait()
}
