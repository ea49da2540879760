package bench

import (
	"flag"
	"time"

	"github.com/rewind/rewind/internal/kafkaconf"
)

// Bench is one run of the benchmark: what its flags say. Its phases are
// its methods; the child processes it starts (the load generator, the
// naive map processor) are the same binary with other flags.
type Bench struct {
	// The audit case.
	onlyAudit    bool
	auditEvents  int
	auditClients int

	// The run and its phases.
	binDir       string
	backlog      int
	many         int
	rawCount     int
	profile      string
	httpRequests int
	profileAfter time.Duration
	profileFor   time.Duration
	progress     bool
	heapProf     string
	phase        string
	onlyMix      bool
	onlyHot      bool
	mixWhich     string
	mixStreams   int

	// The failover case.
	onlyFailover     bool
	failoverKills    int
	failoverSettings string

	// The erasure case.
	onlyErase bool

	// The kernel case.
	onlyKernel bool
	// onlyLatency runs only the latency case on a broker in memory.
	onlyLatency bool

	// The latency load generator: a process of its own (bench -loadgen),
	// so its producing and timing do not share the bench's goroutines or
	// heap.
	loadgen     bool
	loadBrokers string
	loadRate    float64
	loadSeconds int
	loadTag     string
	loadSecure  bool

	// The naive map processor (a child process).
	naive        bool
	naiveBrokers string
	naiveHTTP    string

	// The restore case.
	restoreSchedules int
	onlyRestore      bool

	// kafkaFlags is an external Kafka, and how to reach it; the services the
	// bench starts get the -kafka-* settings through their REWIND_*
	// variables.
	kafkaFlags *kafkaconf.Flags
}

// Register defines the bench's flags on fs, filling b when fs is parsed.
func (b *Bench) Register(fs *flag.FlagSet) {
	fs.BoolVar(&b.onlyAudit, "only-audit", false, "run only the audit case: the activity trail over -audit-events events, and the access log's cost on state reads")
	fs.IntVar(&b.auditEvents, "audit-events", 1000000, "events of the audit case")
	fs.IntVar(&b.auditClients, "audit-clients", 64, "concurrent clients of the audit case's throughput of state reads")
	fs.StringVar(&b.binDir, "bin", "bin", "directory with devkafka and processor")
	fs.IntVar(&b.backlog, "backlog", 500000, "commands in the 1k-stream backlog")
	fs.IntVar(&b.many, "streams", 1000000, "streams in the many-stream backlog (one command each)")
	fs.IntVar(&b.rawCount, "raw", 500000, "records for the raw produce rate")
	fs.StringVar(&b.profile, "cpuprofile", "", "write a 5 s CPU profile of the processor here")
	fs.IntVar(&b.httpRequests, "requests", 20000, "HTTP requests of the ingest load")
	fs.DurationVar(&b.profileAfter, "cpuprofile-after", time.Second, "start the CPU profile this long after the processor")
	fs.DurationVar(&b.profileFor, "cpuprofile-for", 5*time.Second, "the CPU profile's length (whole seconds)")
	fs.BoolVar(&b.progress, "progress", false, "print a drain's progress every 10 s (to stderr)")
	fs.StringVar(&b.heapProf, "heapprofile", "", "write a heap profile of the processor (with its allocations since start) after the many-stream drain (with -only-hot, the 1k-stream drain), or the -cpuprofile-phase mix variant's, here")
	fs.StringVar(&b.phase, "cpuprofile-phase", "drain", "when to profile: mix-durable, mix-memory, mix-members, mix-naive (the many-schedules case's variants), drain (1k streams), hot-naive (the naive map processor on them), hot-members (two members on them), latency, cold, fold (a restore folding the events) or preview (the replay preview of the restore case)")
	fs.BoolVar(&b.onlyMix, "only-mix", false, "stop after the many-schedules case")
	fs.BoolVar(&b.onlyHot, "only-hot", false, "run only the 1k-streams drains, Rewind's (one member and two) and the naive map processor's (with the raw rate)")
	fs.StringVar(&b.mixWhich, "mix-variants", "durable,uncompressed,zstd,personal,memory,members,before,naive", "variants of the many-schedules case to run: durable (the defaults, gzip), uncompressed (-compression none), zstd (-compression zstd), personal (durable, with personal data on every reservation, walk-in and consultation), memory (state in memory), members (-members 2), before (the processor in <-bin>/before, an earlier build; skipped if absent), naive (the naive map processor)")
	fs.IntVar(&b.mixStreams, "mix-schedules", 400000, "schedules in the many-schedules case (a few interleaved commands each)")
	fs.BoolVar(&b.onlyFailover, "only-failover", false, "run only the failover case")
	fs.IntVar(&b.failoverKills, "failover-kills", 10, "kills per setting of the failover case, half inside an open transaction (the crashpoint build), half at random; 0 skips the case")
	fs.StringVar(&b.failoverSettings, "failover-settings", "", "run only these settings of the failover case, a comma-separated list of schedules-processors-standbys (20000-3-2); empty runs all eight")
	fs.BoolVar(&b.onlyKernel, "only-kernel", false, "run only the kernel case: one command decoded, executed and encoded, in the bench's own process")
	fs.BoolVar(&b.onlyLatency, "only-latency", false, "run only the latency case on a devkafka in memory: one member, two, the build in <-bin>/before if there is one, and the naive map processor, in turns")
	fs.BoolVar(&b.onlyErase, "only-erase", false, "run only the erasure's latency (10 visitors of 100 schedules each)")
	fs.BoolVar(&b.loadgen, "loadgen", false, "run as the latency load generator (used by bench itself)")
	fs.StringVar(&b.loadBrokers, "loadgen-brokers", "", "loadgen: Kafka")
	fs.Float64Var(&b.loadRate, "loadgen-rate", 5000, "loadgen: commands per second")
	fs.IntVar(&b.loadSeconds, "loadgen-seconds", 10, "loadgen: how long to produce")
	fs.StringVar(&b.loadTag, "loadgen-tag", "lat", "loadgen: command id prefix")
	fs.BoolVar(&b.loadSecure, "loadgen-secure", false, "loadgen: connect with the -kafka-* security settings")
	fs.BoolVar(&b.naive, "naive", false, "run as the naive map processor, the baseline of the many-schedules case (used by bench itself)")
	fs.StringVar(&b.naiveBrokers, "naive-brokers", "", "naive: Kafka")
	fs.StringVar(&b.naiveHTTP, "naive-http", "", "naive: address of /metrics")
	fs.IntVar(&b.restoreSchedules, "restore-schedules", 100000, "schedules in the restore case (10 events each at 1x history, 30 at 3x); 0 skips it")
	fs.BoolVar(&b.onlyRestore, "only-restore", false, "stop after the restore case")
	b.kafkaFlags = kafkaconf.RegisterDefault(fs, "", "an external Kafka's seed brokers (its topics must be empty); empty starts devkafka")
}
