//go:build e2e

package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/topics"
)

// TestPrometheusScrapesRewind runs devkafka, two processors, ingest and
// query with a real Prometheus (Debian's package) scraping them every
// second, and checks through Prometheus' HTTP API that lag is visible for
// every partition, also while a processor is stuck, and returns to zero
// after the load; that the alert rules load; and that every metric the
// dashboard and the alerts use exists.
func TestPrometheusScrapesRewind(t *testing.T) {
	prometheus, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: `make e2e` installs Debian's prometheus package (as root)")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found")
	}
	if out, err := exec.Command(promtool, "check", "rules", "../deploy/alerts.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}

	s := startStack(t)
	queryHTTP := testkit.FreeAddr(t)
	testkit.Start(t, "query", s.log, "-brokers", s.kafka, "-http", queryHTTP, "-tokens", filepath.Join(s.dir, "tokens"),
		"-data-dir", filepath.Join(s.dir, "query"))
	waitReady(t, queryHTTP)

	p := startPrometheus(t, prometheus, s.dir, s.procHTTP[0], s.procHTTP[1], s.ingestHTTP, queryHTTP)
	testkit.Await(t, 60*time.Second, "every target up", func() bool { return p.scalar(`count(up == 1)`) == 4 })
	// Each processor keeps a copy of the other's two partitions.
	testkit.Await(t, 60*time.Second, "standby copies exported", func() bool { return p.scalar(`count(rewind_processor_standby_lag)`) == 4 })

	// A stuck processor (SIGSTOP) cannot report anything; the other one
	// still exports the lag of every partition, from the group's offsets.
	s.procs[1].Signal(syscall.SIGSTOP)
	recs := testkit.Interleave("clinic-e2e", 1000, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	testkit.Send(t, testkit.Producer(t, s.kafka), recs)
	testkit.Await(t, 60*time.Second, "lag seen while a processor is stuck", func() bool {
		return p.scalar(`sum(max by (partition) (rewind_processor_consumer_lag))`) > 0
	})
	s.procs[1].Signal(syscall.SIGCONT)
	for _, metric := range []string{"rewind_processor_consumer_lag", "rewind_query_view_lag"} {
		parts := p.labelValues(fmt.Sprintf(`max by (partition) (%s)`, metric), "partition")
		if want := []string{"0", "1", "2", "3"}; !slices.Equal(parts, want) {
			t.Errorf("%s has series for partitions %v, want %v", metric, parts, want)
		}
	}
	// Some reads and writes through HTTP, so those metrics have samples.
	client := &apiclient.Client{Ingest: "http://" + s.ingestHTTP, Query: "http://" + queryHTTP, Token: s.token}
	for i := range 20 {
		id := fmt.Sprintf("http-%d", i)
		res, err := client.Send(t.Context(), apiclient.Command{Schedule: id, Type: "Reserve",
			Data: []byte(`{"visitorId":"v",` + e2eSlot + `}`)})
		if err != nil || res.Status != topics.StatusAccepted {
			t.Fatalf("Reserve %s: %+v, %v", id, res, err)
		}
		if _, err := client.State(t.Context(), id, url.Values{"minVersion": {"1"}}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Await(t, 120*time.Second, "lag back to zero after the load", func() bool {
		return p.scalar(`sum(max by (partition) (rewind_processor_consumer_lag))`) == 0 &&
			p.scalar(`sum(max by (partition) (rewind_query_view_lag))`) == 0 &&
			p.scalar(`sum(rewind_processor_commands_total)`) >= float64(len(recs)+20)
	})

	p.rulesLoaded()
	p.metricsExported()
}

// startPrometheus runs Prometheus in dir, scraping every second the
// processors at proc1 and proc2, ingest and query, with the alert rules,
// and waits until it is ready.
func startPrometheus(t *testing.T, prometheus, dir, proc1, proc2, ingest, query string) *promAPI {
	alerts, err := filepath.Abs("../deploy/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: rewind-processor
    static_configs: [{targets: [%q, %q]}]
  - job_name: rewind-ingest
    static_configs: [{targets: [%q]}]
  - job_name: rewind-query
    static_configs: [{targets: [%q]}]
`, alerts, proc1, proc2, ingest, query)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := testkit.FreeAddr(t)
	prom := testkit.Start(t, prometheus, filepath.Join(dir, "prometheus.log"), "--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	t.Cleanup(func() { _ = prom.Stop(30 * time.Second) })
	p := &promAPI{t: t, base: "http://" + promAddr}
	testkit.Await(t, 60*time.Second, "prometheus ready", func() bool {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

// rulesLoaded: the alert rules loaded and evaluate without errors.
func (p *promAPI) rulesLoaded() {
	t := p.t
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name, Health, LastError string }
			}
		}
	}
	p.get("/api/v1/rules", nil, &rules)
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health == "err" {
				t.Errorf("rule %s: %s", r.Name, r.LastError)
			}
		}
	}
	if n < 5 {
		t.Errorf("Prometheus loaded %d rules from alerts.yml", n)
	}
}

// metricsExported: every metric the dashboard and the alerts query
// exists. The restore gauge exists only while a partition restores.
func (p *promAPI) metricsExported() {
	t := p.t
	var names struct{ Data []string }
	p.get("/api/v1/label/__name__/values", nil, &names)
	used := map[string]bool{}
	for _, f := range []string{"../deploy/grafana/dashboards/rewind.json", "../deploy/alerts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`rewind_[a-z_]+`).FindAllString(string(b), -1) {
			used[m] = true
		}
	}
	for m := range used {
		exported := slices.Contains(names.Data, m) || slices.Contains(names.Data, m+"_count") // a histogram's name
		if m != "rewind_processor_restore_remaining" && !exported {
			t.Errorf("%s is queried by the dashboard or the alerts but no service exports it", m)
		}
	}
}

type promAPI struct {
	t    *testing.T
	base string
}

func (p *promAPI) get(path string, q url.Values, out any) {
	p.t.Helper()
	u := p.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		p.t.Fatalf("%s: %v", u, err)
	}
}

type vector struct {
	Data struct {
		Result []struct {
			Metric map[string]string
			Value  [2]any
		}
	}
}

// scalar evaluates an instant query with one result; no result is -1.
func (p *promAPI) scalar(query string) float64 {
	var v vector
	p.get("/api/v1/query", url.Values{"query": {query}}, &v)
	if len(v.Data.Result) == 0 {
		return -1
	}
	var f float64
	fmt.Sscan(v.Data.Result[0].Value[1].(string), &f)
	return f
}

func (p *promAPI) labelValues(query, label string) []string {
	var v vector
	p.get("/api/v1/query", url.Values{"query": {query}}, &v)
	var out []string
	for _, r := range v.Data.Result {
		out = append(out, r.Metric[label])
	}
	slices.Sort(out)
	return out
}
