package processor

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewind/rewind/topics"
)

// metrics are the processor's Prometheus metrics:
//
//	rewind_processor_commands_total{type,outcome}   commands handled, by outcome (accepted, rejected, duplicate)
//	rewind_processor_events_total{type}             events written (counted after commit)
//	rewind_processor_transactions_total{result}     transactions: committed, aborted, failed
//	rewind_processor_batch_seconds                  time from poll to the Pebble write of a batch
//	rewind_processor_consumer_lag{partition}        commands behind the last stable offset, every partition
//	rewind_processor_restore_events_total           events folded while restoring
//	rewind_processor_restore_seconds{source}        time to restore a partition, by what it read: state-tail, state or events
//	rewind_processor_restoring_partitions           partitions restoring now
//	rewind_processor_restore_remaining{partition}   records left to read, while the partition restores
//	rewind_processor_partitions_owned               partitions this instance owns
//	rewind_processor_standby_lag{partition}         state topic and keys records a standby copy is behind, per partition kept
//	rewind_processor_state_cache_total{result}      stream lookups by the state cache: hit or miss (a miss reads Pebble)
//	rewind_processor_state_cache_bytes              bytes the state cache holds
//	rewind_processor_fenced_transactions_total      open transactions of lost processors this member fenced to take their partitions
//	rewind_processor_takeover_seconds               time from a partition's assignment to its first commit (or, with nothing to do, its first idle poll)
type metrics struct {
	commands       *prometheus.CounterVec
	events         *prometheus.CounterVec
	transactions   *prometheus.CounterVec
	batch          prometheus.Histogram
	lag            *prometheus.GaugeVec
	restored       prometheus.Counter
	restoredKeys   prometheus.Counter
	restoring      prometheus.Gauge
	restoreSeconds *prometheus.HistogramVec
	restoreLeft    *prometheus.GaugeVec
	owned          prometheus.Gauge
	standbyLag     *prometheus.GaugeVec
	cacheHits      prometheus.Counter
	cacheMisses    prometheus.Counter
	cacheBytes     prometheus.Gauge
	fenced         prometheus.Counter
	takeover       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, logic int) *metrics {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rewind_processor_commands_total", Help: "Commands handled, by type and outcome.",
		}, []string{"type", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rewind_processor_events_total", Help: "Events committed, by type.",
		}, []string{"type"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rewind_processor_transactions_total", Help: "Transactions ended, by result.",
		}, []string{"result"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rewind_processor_batch_seconds", Help: "Time to handle one batch, poll to Pebble write.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rewind_processor_consumer_lag", Help: "Commands not yet committed by the group, per partition.",
		}, []string{"partition"}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rewind_processor_restore_events_total", Help: "Events folded into Pebble while restoring.",
		}),
		restoredKeys: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rewind_processor_restore_key_records_total",
			Help: "Key records (schedule-keys) read while restoring: a partition's every subject's without a standby copy, only those written since with one.",
		}),
		restoreSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rewind_processor_restore_seconds",
			Help:    "Time to restore a partition, by source: the state topic's tail since the checkpoint, the whole state topic, or a fold of the events.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"source"}),
		restoring: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rewind_processor_restoring_partitions", Help: "Partitions being restored now.",
		}),
		restoreLeft: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rewind_processor_restore_remaining",
			Help: "Records left to read (state topic, or events and results when folding), per partition being restored.",
		}, []string{"partition"}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rewind_processor_partitions_owned", Help: "Partitions this member owns.",
		}),
		standbyLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rewind_processor_standby_lag",
			Help: "Records of the state topic and of schedule-keys a standby copy has yet to apply, per partition this instance keeps a copy of.",
		}, []string{"partition"}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rewind_processor_state_cache_bytes", Help: "Bytes of stream records the state cache holds.",
		}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rewind_processor_fenced_transactions_total",
			Help: "Open transactions of processors no longer in the group that this member fenced (aborted) to take over their partitions.",
		}),
		takeover: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rewind_processor_takeover_seconds",
			Help: "Time from the assignment of a partition to the first transaction committed with its commands (or its first idle poll): the write pause a rebalance or failover adds after the session timeout.",
			// The alert RewindSlowTakeover reads the 5 s bucket.
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300},
		}),
	}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rewind_processor_state_cache_total", Help: "Stream lookups by the state cache, by result: hit, or miss (read from Pebble).",
	}, []string{"result"})
	m.cacheHits, m.cacheMisses = lookups.WithLabelValues("hit"), lookups.WithLabelValues("miss")
	logicVersion := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rewind_processor_logic_version",
		Help: "The fold logic version this instance runs: during a rollout, which members run the new code.",
	})
	logicVersion.Set(float64(logic))
	if reg != nil {
		reg.MustRegister(m.commands, m.events, m.transactions, m.batch, m.lag, m.restored, m.restoredKeys, m.restoreSeconds, m.restoring, m.restoreLeft, m.owned, m.standbyLag,
			lookups, m.cacheBytes, logicVersion, m.fenced, m.takeover)
	}
	return m
}

// initLabels creates the series whose labels are known at start, at zero,
// so that dashboards and rate() alerts work before the first command.
func (m *metrics) initLabels(commandTypes []string) {
	for _, typ := range commandTypes {
		for _, outcome := range []string{topics.StatusAccepted, topics.StatusRejected, topics.StatusDuplicate} {
			m.commands.WithLabelValues(typ, outcome)
		}
	}
	for _, result := range []string{"committed", "aborted", "failed"} {
		m.transactions.WithLabelValues(result)
	}
	for _, s := range []source{fromStateTail, fromState, fromEvents} {
		m.restoreSeconds.WithLabelValues(s.String())
	}
}
