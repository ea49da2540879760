// Package promsample flattens Prometheus metrics into samples keyed as
// the text format writes them, `name{label="value",…}`, for the tools and
// tests that read Rewind's metrics: from a /metrics page (parsed with
// expfmt) or from a registry. A histogram or summary gives its _count and
// _sum.
package promsample

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples maps a series, `name{label="value",…}` with labels in the
// order the source gives them, to its value.
type Samples map[string]float64

// Scrape reads a /metrics page. An unreadable page gives no samples, and
// so does one that does not answer within 10 s (something else on the
// port), instead of a wait without end.
func Scrape(url string) Samples {
	resp, err := scrapeClient.Get(url)
	if err != nil {
		return Samples{}
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return Samples{}
	}
	out := Samples{}
	for _, f := range families {
		out.add(f)
	}
	return out
}

// Gather reads a registry.
func Gather(g prometheus.Gatherer) (Samples, error) {
	families, err := g.Gather()
	out := Samples{}
	for _, f := range families {
		out.add(f)
	}
	return out, err
}

func (s Samples) add(f *dto.MetricFamily) {
	name := f.GetName()
	for _, m := range f.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
		}
		key := func(suffix string) string {
			if len(labels) == 0 {
				return name + suffix
			}
			return name + suffix + "{" + strings.Join(labels, ",") + "}"
		}
		switch {
		case m.Histogram != nil:
			s[key("_count")] = float64(m.GetHistogram().GetSampleCount())
			s[key("_sum")] = m.GetHistogram().GetSampleSum()
		case m.Summary != nil:
			s[key("_count")] = float64(m.GetSummary().GetSampleCount())
			s[key("_sum")] = m.GetSummary().GetSampleSum()
		default:
			s[key("")] = m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
		}
	}
}

// Count is how many series start with prefix (a name and "{" counts the
// labelled series of one metric).
func (s Samples) Count(prefix string) (n int) {
	for k := range s {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// Sum adds the values of the series that start with prefix.
func (s Samples) Sum(prefix string) (sum float64) {
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			sum += v
		}
	}
	return sum
}

// Value adds the series of the metric name: unlabelled, or all its
// labelled series (name{…}); 0 when it has none.
func (s Samples) Value(name string) (sum float64) {
	for k, v := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			sum += v
		}
	}
	return sum
}

var scrapeClient = &http.Client{Timeout: 10 * time.Second}
