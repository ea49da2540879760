package ingest

import "github.com/prometheus/client_golang/prometheus"

// metrics are ingest's Prometheus metrics:
//
//	rewind_ingest_requests_total{code}   requests answered, by HTTP status
//	rewind_ingest_wait_seconds           time from produce to outcome
//	rewind_ingest_waiting_requests       requests waiting for outcomes now (registered by New)
type metrics struct {
	requests *prometheus.CounterVec
	wait     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rewind_ingest_requests_total", Help: "HTTP requests answered, by status code.",
		}, []string{"code"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rewind_ingest_wait_seconds", Help: "Time from producing a command to its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	// The statuses ingest answers, at zero from the start, so that
	// dashboards and rate() alerts work before the first command.
	for _, code := range []string{"200", "202", "400", "401", "403", "404", "409", "412", "413", "422", "503"} {
		m.requests.WithLabelValues(code)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.wait)
	}
	return m
}
