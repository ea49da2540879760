package query

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	lag       *prometheus.GaugeVec
	applied   prometheus.Counter
	badEvents prometheus.Counter
	erased    prometheus.Counter
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rewind_query_view_lag",
			Help: "Records of schedule-events committed but not yet in the read model, by partition."}, []string{"partition"}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "rewind_query_events_applied_total",
			Help: "Events folded into the read model (a rebuild folds them again)."}),
		badEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "rewind_query_bad_events_total",
			Help: "Records of schedule-events skipped because they are not readable events."}),
		erased: prometheus.NewCounter(prometheus.CounterOpts{Name: "rewind_query_erased_events_total",
			Help: "Tombstones applied: events erased from the read model."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewind_query_requests_total",
			Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rewind_query_request_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.lag, m.applied, m.badEvents, m.erased, m.requests, m.latency)
	}
	return m
}
