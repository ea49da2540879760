// Command processor runs one instance of Rewind's exactly-once command
// processor. Flags may also be set as REWIND_* environment variables
// (-instance-id → REWIND_INSTANCE_ID).
package main

import (
	"context"
	"flag"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/topics"
)

func main() { cli.ServiceMain("processor", run) }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	kafka := kafkaconf.Register(fs) // -brokers, -kafka-tls…, -kafka-sasl…
	group := fs.String("group", processor.DefaultGroup, "consumer group")
	instance := fs.String("instance-id", hostname(), "stable instance id: static member id and transactional id suffix")
	dataDir := fs.String("data-dir", "data/processor", "Pebble state directory")
	httpAddr := fs.String("http", "127.0.0.1:8081", "address of /metrics, /healthz and /readyz")
	partitions := fs.Int("partitions", 12, "partition count of topics this instance creates")
	accessRetention := fs.Duration("access-retention", topics.DefaultAccessRetention, "how long schedule-access keeps an access record (set on the topic at start; 17520h is two years)")
	maxBatch := fs.Int("max-batch", 2000, "most commands in one transaction")
	stateCache := fs.Int("state-cache-mib", 64, "MiB of stream records kept in memory between batches (W-TinyLFU); -1 disables")
	blockCache := fs.Int("block-cache-mib", 64, "MiB of Pebble's block cache")
	inMemory := fs.Bool("in-memory", false, "keep the state in memory, restored from Kafka at every start (to measure what the data dir saves)")
	compression := fs.String("compression", "gzip", "compression of the records written (events, results, state, keys): none, gzip, snappy, lz4 or zstd (gzip: every client reads it)")
	dedup := fs.Duration("dedup-window", 0, "how long command ids are remembered (default 168h)")
	members := fs.Int("members", 1, "transactional members in this process, each with its own partitions, like Kafka Streams' stream threads: one commits while another decides")
	standby := fs.Int("standby-replicas", 0, "how many other members keep a warm copy of each partition, so a failover restores only a short tail (kept in other processes; processes-1 guarantees it)")
	sessionTimeout := fs.Duration("session-timeout", 10*time.Second, "how long the group waits for a silent member before moving its partitions")
	txnTimeout := fs.Duration("transaction-timeout", 10*time.Second, "after which the broker aborts an open transaction; a batch must end within it")
	// A backstop for bursts, not the budget: the caches' defaults keep the
	// heap's normal peak (GOGC=100, twice the live heap) well below it. A
	// limit under that peak made the GC run back to back, and took half
	// the processor's CPU (docs/performance.md).
	memoryLimit := cli.RegisterMemoryLimit(fs, 768, "soft limit of the Go heap in MiB (GOMEMLIMIT), a backstop above the heap's normal peak; Pebble's cache comes on top")
	keyring := cli.RegisterKEK(fs)
	eraseKeys := cli.RegisterEraseKey(fs)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	memoryLimit()
	ring, err := keyring()
	if err != nil {
		return err
	}
	erasures, err := eraseKeys()
	if err != nil {
		return err
	}
	log := cli.Logger(*logLevel)
	reg := cli.Registry()
	kafkaOpts, err := kafka.Connect(ctx, log)
	if err != nil {
		return err
	}
	p, err := processor.NewMembers(processor.Config{
		ClientOpts: kafkaconf.ClientOpts(kafkaOpts, log, nil, ""), Group: *group, InstanceID: *instance, DataDir: *dataDir,
		Partitions: int32(*partitions), AccessRetention: *accessRetention, MaxBatch: *maxBatch, DedupWindow: *dedup, StateCacheBytes: int64(*stateCache) << 20, BlockCacheBytes: int64(*blockCache) << 20, InMemory: *inMemory, Compression: *compression,
		StandbyReplicas: *standby, SessionTimeout: *sessionTimeout, TransactionTimeout: *txnTimeout,
		Kind: schedule.Kind, Keyring: ring, Erasures: erasures, Logger: log, Registerer: reg,
	}, *members)
	if err != nil {
		return err
	}
	defer p.Close()

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return cli.Serve(ctx, *httpAddr, reg, p.Ready, nil) })
	g.Go(func() error {
		err := p.Run(ctx)
		stop() // stop serving once the processor is gone
		return err
	})
	return g.Wait()
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "processor-1"
	}
	return h
}
