package processor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// DefaultGroup is the processors' consumer group unless -group says
// otherwise; a tool that reads the group's offsets (the bench) names it
// from here.
const DefaultGroup = "rewind-processor"

// Config configures a Processor.
type Config struct {
	// ClientOpts connect to Kafka: the seed brokers, TLS, SASL and
	// franz-go's logger, as a main builds them for every service
	// (kafkaconf.ClientOpts). They serve every client the processor
	// creates, so they hold no hook: the processor adds its metrics hooks,
	// client id and transactional options after them.
	ClientOpts []kgo.Opt
	// Group is the consumer group. The default value is DefaultGroup.
	Group string
	// InstanceID names this instance. It must be stable across restarts:
	// it is the static group member id and the suffix of the transactional
	// id, so a restarted instance fences its own dead transaction at once
	// and gets its partitions back without a rebalance. Required.
	InstanceID string
	// DataDir holds the Pebble store. Required unless InMemory.
	DataDir string
	// InMemory keeps the store in memory: every start restores from the
	// topics. It measures what durability costs; production keeps a
	// data dir, which makes restarts cheap.
	InMemory bool
	// Partitions is the partition count used when creating the topics. The
	// default value is 12. Existing topics keep their count.
	Partitions int32
	// ReplicationFactor for created topics; -1 is the broker's default.
	// The default value is -1.
	ReplicationFactor int16
	// AccessRetention is how long schedule-access keeps a record, set on
	// the topic at start. Zero means topics.DefaultAccessRetention.
	AccessRetention time.Duration
	// MaxBatch caps the commands of one transaction. A transaction's
	// fixed cost (the flush, the offsets, EndTxn, the Pebble commit) is
	// shared by its commands when there is a backlog; under a steady load
	// a batch holds what arrived during the last one, far fewer. The
	// default value is 2000.
	MaxBatch int
	// StateCacheBytes is the memory for stream records kept between
	// batches (W-TinyLFU, records as stored); 0 takes the default, a
	// negative value disables the cache. The default value is 64 MiB,
	// about 250,000 streams of a few commands each.
	StateCacheBytes int64
	// BlockCacheBytes is Pebble's block cache. The default value is
	// 64 MiB.
	BlockCacheBytes int64
	// DedupWindow is how long a command id is remembered per stream. The
	// default value is 7 days (the retention of schedule-results).
	DedupWindow time.Duration
	// Compression of the records the processor writes: none, gzip,
	// snappy, lz4 or zstd. The default value is "gzip", at its fastest
	// level: the one codec every Kafka client reads (plain kafkajs reads
	// no other), and a seventh of the bytes of "none" for about 1.3 µs of
	// CPU per command (docs/performance.md). zstd writes less where the
	// consumers have the codec; none spares that CPU.
	Compression string
	// StandbyReplicas is how many members keep a warm copy of each
	// partition besides its owner (see standbys), so that a failover
	// reads the state topic's short tail instead of a whole partition.
	// The default value is 0, as in Kafka Streams.
	StandbyReplicas int
	// SessionTimeout of the group member. The default value is 10s.
	SessionTimeout time.Duration
	// TransactionTimeout is how long a transaction may stay open before
	// the broker aborts it. A batch, and finishing one on shutdown, must
	// end within it; it is the second guard behind fencing a lost
	// owner's transaction (fence.go), the wait when fencing cannot be
	// done. As in Kafka Streams under exactly-once, the default value is
	// 10s: a batch of MaxBatch commands takes well under a second.
	TransactionTimeout time.Duration
	// Kind is the aggregate type whose commands this processor handles.
	Kind aggregate.Kind
	// Keyring wraps the data subjects' keys (-kek-file). Required: the
	// processor seals every personal field (docs/privacy.md).
	Keyring shred.Keyring
	// Erasures checks an erasure's signature (-erase-key-file): only an
	// erasure signed with one of its keys, as ingest signs them, is
	// carried out. Without it, every erasure is rejected.
	Erasures *shred.Signer
	// Logger; the default discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means none are registered.
	Registerer prometheus.Registerer
	// hooks inject crashes in tests (export_test.go); zero in production.
	hooks hooks
	// process names the process the member runs in, when it is one of
	// several (Members); empty means InstanceID. Standby copies are kept
	// in other processes than the owner's.
	process string
}

// processID is the process the member runs in.
func (c *Config) processID() string {
	if c.process != "" {
		return c.process
	}
	return c.InstanceID
}

// hooks are called at the points where a crash, or a rebalance, is most
// dangerous. A commit hook that returns an error makes Run return it at
// once, leaving the transaction open and Pebble unwritten, exactly as a
// crash would.
type hooks struct {
	// BeforeCommit runs after a batch's records are produced, before End.
	BeforeCommit func() error
	// AfterCommit runs after the Kafka commit, before the Pebble write.
	AfterCommit func() error
	// BeforeRestore runs when a restore of parts begins; ctx ends when
	// they are revoked. An error fails the restore, as a failed read
	// would.
	BeforeRestore func(ctx context.Context, parts []int32) error
	// RestoreProgress runs in a restore's read loop each time it has
	// exported the records left, before it fetches more.
	RestoreProgress func(ctx context.Context)
}

// compressions are the codecs of Config.Compression.
var compressions = map[string]kgo.CompressionCodec{
	// gzip at level 1, its fastest: its ratio on these records is within
	// 6% of the default level's, at half the CPU.
	"none": kgo.NoCompression(), "gzip": kgo.GzipCompression().WithLevel(1), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

func (c *Config) setDefaults() {
	c.Group = cmp.Or(c.Group, DefaultGroup)
	c.Partitions = cmp.Or(c.Partitions, topics.DefaultPartitions)
	c.ReplicationFactor = cmp.Or(c.ReplicationFactor, -1)
	c.MaxBatch = cmp.Or(c.MaxBatch, 2000)
	c.StateCacheBytes = cmp.Or(c.StateCacheBytes, 64<<20)
	c.BlockCacheBytes = cmp.Or(c.BlockCacheBytes, 64<<20)
	c.DedupWindow = cmp.Or(c.DedupWindow, 7*24*time.Hour)
	c.Compression = cmp.Or(c.Compression, "gzip")
	c.SessionTimeout = cmp.Or(c.SessionTimeout, 10*time.Second)
	c.TransactionTimeout = cmp.Or(c.TransactionTimeout, 10*time.Second)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Validate reports every problem with the config.
func (c *Config) Validate() error {
	var errs []error
	if !aggregate.ValidID(c.InstanceID) {
		errs = append(errs, errors.New("processor: instance id is required and must match "+aggregate.IDPattern))
	}
	if c.DataDir == "" && !c.InMemory {
		errs = append(errs, errors.New("processor: data dir is required"))
	}
	if c.Partitions < 1 {
		errs = append(errs, errors.New("processor: partitions must be at least 1"))
	}
	if c.BlockCacheBytes < 0 {
		errs = append(errs, errors.New("processor: the block cache must not be negative"))
	}
	if c.StandbyReplicas < 0 {
		errs = append(errs, errors.New("processor: standby replicas must not be negative"))
	}
	if c.TransactionTimeout < time.Second {
		errs = append(errs, errors.New("processor: the transaction timeout must be at least 1s"))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, errors.New("processor: max batch must be at least 1"))
	}
	if _, ok := compressions[c.Compression]; !ok {
		errs = append(errs, fmt.Errorf("processor: compression %q is not none, gzip, snappy, lz4 or zstd", c.Compression))
	}
	if c.Kind == nil {
		errs = append(errs, errors.New("processor: an aggregate kind is required"))
	}
	if c.Keyring == nil {
		errs = append(errs, errors.New("processor: a keyring is required (-kek-file): personal data is sealed under keys it wraps"))
	}
	return errors.Join(errs...)
}
