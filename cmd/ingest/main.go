// Command ingest serves Rewind's HTTP command API, over HTTPS with
// -tls-cert; `ingest import FILE|-` sends an NDJSON file of commands to a
// running ingest. Flags may also be set as REWIND_* environment variables
// (-tokens → REWIND_TOKENS). The tokens file and the certificate are
// re-read when they change and on SIGHUP.
package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/ingest"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/topics"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "import" {
		cli.Main("ingest import", runImport, os.Args[2:])
		return
	}
	cli.ServiceMain("ingest", run)
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	kafka := kafkaconf.Register(fs) // -brokers, -kafka-tls…, -kafka-sasl…
	frontFlags := cli.RegisterFront(fs, "127.0.0.1:8080", "address of the API and of /metrics, /healthz, /readyz")
	wait := fs.Duration("wait", api.DefaultWait, "how long a request waits for its outcome by default")
	maxWaiting := fs.Int("max-waiting", api.DefaultMaxWaiting, "most requests waiting for outcomes at once; more are answered 503 with Retry-After")
	dataDir := fs.String("data-dir", "data/ingest", "directory of the outcome history, which GET /v1/commands/{id} answers from (a cache of schedule-results: deleting it reads the topic again); empty keeps it in memory")
	retention := fs.Duration("outcome-retention", ingest.DefaultHistoryRetention, "how long outcomes are kept: schedule-results' retention.ms")
	eraseKeys := cli.RegisterEraseKey(fs)
	accessTimeout := fs.Duration("access-timeout", access.DefaultTimeout, "longest wait for an access record's acknowledgement; past it, commands and erasures answer 503 audit_unavailable until records reach Kafka again")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	erasures, err := eraseKeys()
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
	// Idempotent with acks=all are franz-go's defaults; linger 0 because a
	// person is waiting for each command. The partitioner is Kafka's
	// default but for an erasure's records, one per partition.
	prod, err := kgo.NewClient(append(kafkaconf.ClientOpts(kafkaOpts, log, reg, "rewind_ingest_kafka"),
		kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(time.Minute), kgo.RecordPartitioner(topics.CommandPartitioner()))...)
	if err != nil {
		return err
	}
	defer prod.Close() // last: after the server has drained
	// The results consumer is a client of its own, with metrics of its own.
	// Its hooks stay off the clients the history makes from its options.
	waiter, err := ingest.NewWaiter(ctx, kafkaconf.ClientOpts(kafkaOpts, log, nil, ""), 100000, log,
		ingest.WithClientHooks(kafkaconf.Metrics(reg, "rewind_ingest_results_kafka")),
		ingest.WithHistory(*dataDir, *retention))
	if err != nil {
		return err
	}
	accessLog, err := access.New(access.Config{ClientOpts: kafkaconf.ClientOpts(kafkaOpts, log, nil, ""), Service: "ingest",
		Timeout: *accessTimeout, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	defer accessLog.Close()
	srv, err := ingest.New(ingest.Config{Producer: prod, Waiter: waiter, Tokens: front.Tokens, Kind: schedule.Kind, Erasures: erasures,
		Access: accessLog, DefaultWait: *wait, MaxWaiting: *maxWaiting, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	srv.Routes(mux)
	// Shutdown order: stop accepting and drain in-flight requests (which
	// still need the waiter), then stop the waiter, then close the
	// producer (deferred above).
	waitCtx, stopWaiter := context.WithCancel(context.Background())
	defer stopWaiter()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return waiter.Run(waitCtx) })
	g.Go(func() error { srv.Watch(gctx); return nil })
	g.Go(func() error { front.Watch(gctx); return nil })
	g.Go(func() error {
		defer stopWaiter()
		// Drain for as long as a request may wait for its outcome.
		return front.Serve(gctx, mux, srv.Ready, 35*time.Second)
	})
	log.Info("ingest listening", "addr", front.Addr, "https", front.Cert != nil, "tokens", front.Tokens.Len())
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("ingest stopped")
	return nil
}
