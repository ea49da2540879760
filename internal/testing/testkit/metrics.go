package testkit

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewind/rewind/internal/testing/promsample"
)

// Samples gathers a registry's metrics, keyed as the text format writes
// them (promsample).
func Samples(t testing.TB, g prometheus.Gatherer) promsample.Samples {
	t.Helper()
	s, err := promsample.Gather(g)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Metric is the value of the metric name in a registry: the sum of its
// series, 0 when it has none. It is the one way an in-process test reads
// a metric; a test of a process scrapes with promsample.Scrape.
func Metric(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	return Samples(t, g).Value(name)
}
