package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/topics"
)

// ErrUnavailable is Log's error while records cannot reach Kafka: the
// caller answers 503 audit_unavailable, never the data.
var ErrUnavailable = errors.New("access: the access log cannot be written")

// RetryAfter is the Retry-After, in seconds, of an answer refused
// because its record could not be written.
const RetryAfter = "5"

// DefaultTimeout is how long a record may take to be acknowledged before
// the log counts as unavailable.
const DefaultTimeout = 10 * time.Second

// Config configures a Logger.
type Config struct {
	// ClientOpts connect to Kafka (seed brokers, security, logger).
	ClientOpts []kgo.Opt
	// Service names the writer: query or ingest.
	Service string
	// Timeout bounds the wait for one record's acknowledgement. Zero
	// means DefaultTimeout.
	Timeout    time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Logger writes a service's access records. It is safe for concurrent
// use; records are chained in the order Log is called.
type Logger struct {
	opts    []kgo.Opt
	service string
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	cl     *kgo.Client // the chain's producer
	writer string      // the chain's name, also the records' key
	seq    uint64      // of the last record produced
	prev   string      // its hash

	// down is set when a record was not acknowledged in time, and
	// cleared by the next one that is. While it is set, one call at a
	// time (trying) writes its record; the others fail at once, so a
	// broker that is gone costs readers a 503, not Timeout each.
	down   atomic.Bool
	trying atomic.Bool

	written, failed prometheus.Counter
}

// New starts a Logger. It does not wait for the brokers: the first Log
// does.
func New(cfg Config) (*Logger, error) {
	if cfg.Service == "" {
		return nil, errors.New("access: a service name is required")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	l := &Logger{service: cfg.Service, timeout: timeout, log: cfg.Logger,
		opts: append(slices.Clone(cfg.ClientOpts),
			kgo.DefaultProduceTopic(topics.Access),
			// A record not acknowledged within the timeout is failed, and
			// with it the read that waits for it.
			kgo.RecordDeliveryTimeout(timeout),
			// Reads wait for their record, but a request per read costs
			// the service and the brokers more than the wait: the
			// records of a millisecond's reads go in one (make bench:
			// +10% reads/s under load, +1.2 ms on a lone read). Go's
			// poller sleeps in whole milliseconds, so less is the same.
			kgo.ProducerLinger(time.Millisecond))}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if err := l.newChain(); err != nil {
		return nil, err
	}
	counter := func(outcome string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "rewind_access_records_total",
			Help:        "Access records by outcome: written (acknowledged by Kafka) or failed (the request was answered 503 audit_unavailable).",
			ConstLabels: prometheus.Labels{"outcome": outcome}})
	}
	l.written, l.failed = counter("written"), counter("failed")
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(l.written, l.failed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rewind_access_log_unavailable",
			Help: "1 while access records cannot reach Kafka: reads of patient data are answered 503 audit_unavailable."},
			func() float64 {
				if l.down.Load() {
					return 1
				}
				return 0
			}))
	}
	return l, nil
}

// Close stops the logger; records not yet acknowledged fail.
func (l *Logger) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cl.Close()
}

// Unavailable reports whether records cannot reach Kafka now.
func (l *Logger) Unavailable() bool { return l.down.Load() }

// newChain starts a chain under a new name, with a producer of its own:
// at start, and after a record whose fate is unknown (it may or may not
// have landed), so that a chain never has a hole of its writer's own
// making. The old chain's producer is closed, which fails the records it
// still holds: a record buffered while Kafka was gone must not block the
// new chain's, nor land long after its read was refused. Called with mu
// held, or before l is shared.
func (l *Logger) newChain() error {
	cl, err := kgo.NewClient(l.opts...)
	if err != nil {
		return err
	}
	if old := l.cl; old != nil {
		go old.Close()
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	l.cl, l.writer, l.seq, l.prev = cl, l.service+"-"+hex.EncodeToString(id[:]), 0, ""
	return nil
}

// Log writes r, filling in its service and chain fields and, when zero,
// its time, and returns once Kafka has acknowledged it. It fails with
// ErrUnavailable (wrapped) when it was not acknowledged within the
// timeout, and at once while an earlier record was not and no later one
// has been.
func (l *Logger) Log(ctx context.Context, r *Record) error {
	if l.down.Load() {
		if !l.trying.CompareAndSwap(false, true) {
			l.failed.Inc()
			return ErrUnavailable
		}
		defer l.trying.Store(false)
	}
	// A client that hangs up does not cancel the record: its failure
	// would be taken for Kafka's, and end the chain.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	done := make(chan error, 1)
	l.mu.Lock()
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	r.Service = l.service
	l.seq++
	r.Writer, r.Seq, r.Prev = l.writer, l.seq, l.prev
	value := r.Encode()
	l.prev = Hash(value)
	writer, seq := l.writer, l.seq
	// Produced under mu: the records of a chain reach their partition in
	// chain order (one key, one partition, an idempotent producer).
	l.cl.Produce(ctx, &kgo.Record{Key: []byte(writer), Value: value}, func(_ *kgo.Record, err error) { done <- err })
	l.mu.Unlock()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// franz-go fails a record at its delivery timeout only when it
		// next tries to send it: with no broker to connect to, that can
		// be much later. The caller cannot wait that long.
		err = ctx.Err()
	}
	if err == nil {
		l.written.Inc()
		if l.down.CompareAndSwap(true, false) {
			l.log.Info("the access log is written again", "writer", writer)
		}
		return nil
	}
	l.failed.Inc()
	l.mu.Lock()
	if l.writer == writer {
		// This record may land later or never: the chain ends here, and
		// the log says so, for an auditor who finds it cut short.
		l.log.Warn("an access record was not acknowledged; its chain ends with it and a new one begins",
			"writer", writer, "seq", seq, "err", err)
		if cerr := l.newChain(); cerr != nil {
			err = errors.Join(err, cerr) // the old chain goes on, and fails again
		}
	}
	l.mu.Unlock()
	if l.down.CompareAndSwap(false, true) {
		l.log.Error("the access log cannot be written: reads of patient data are refused until it can", "err", err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
