// Package deploy_test checks the deployment files that cannot run on a
// machine without Docker: docker-compose.yml's structure against the
// binaries' real flags, the Dockerfile, the Prometheus config, the alert
// rules and the Grafana provisioning.
package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/topics"
)

type compose struct {
	Services map[string]struct {
		Image       string
		Build       any
		Entrypoint  []string
		Command     any
		Environment map[string]string
		Ports       []string
		Volumes     []string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Healthcheck *struct{ Test []string }
	}
	Volumes map[string]any
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// flagsOf lists a binary's flags from its -h output.
func flagsOf(t *testing.T, name string) []string {
	t.Helper()
	out, _ := exec.Command(filepath.Join(testkit.Binaries(t), name), "-h").CombinedOutput()
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(out), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) == 0 {
		t.Fatalf("%s -h lists no flags:\n%s", name, out)
	}
	return flags
}

func TestComposeStructure(t *testing.T) {
	c := loadCompose(t)
	want := []string{"kafka", "kafka-init", "processor-1", "processor-2", "ingest", "query", "prometheus", "grafana"}
	for _, name := range want {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	if len(c.Services) != len(want) {
		t.Errorf("services: %d, want %d", len(c.Services), len(want))
	}
	if img := c.Services["kafka"].Image; !strings.HasPrefix(img, "apache/kafka:") {
		t.Errorf("kafka image %q, want the official apache/kafka", img)
	}
	if env := c.Services["kafka"].Environment; !strings.Contains(env["KAFKA_PROCESS_ROLES"], "controller") || env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "" {
		t.Errorf("kafka must run in KRaft mode (broker and controller): %v", env)
	}
	ports := map[string]string{"ingest": "8080:8080", "query": "8082:8082", "processor-1": "8081:8081",
		"processor-2": "8083:8081", "prometheus": "9090:9090", "grafana": "3000:3000"}
	for name, p := range ports {
		if !slices.Contains(c.Services[name].Ports, p) {
			t.Errorf("%s ports %v, want %s", name, c.Services[name].Ports, p)
		}
	}
	for name, s := range c.Services {
		if name != "kafka-init" && (s.Healthcheck == nil || len(s.Healthcheck.Test) == 0) {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	deps := map[string]map[string]string{
		"kafka-init":  {"kafka": "service_healthy"},
		"processor-1": {"kafka-init": "service_completed_successfully"},
		"processor-2": {"kafka-init": "service_completed_successfully"},
		"ingest":      {"kafka-init": "service_completed_successfully"},
		"query":       {"kafka-init": "service_completed_successfully"},
		"grafana":     {"prometheus": "service_healthy"},
	}
	for name, want := range deps {
		for dep, cond := range want {
			if got := c.Services[name].DependsOn[dep].Condition; got != cond {
				t.Errorf("%s depends_on %s: %q, want %q", name, dep, got, cond)
			}
		}
	}
	for _, name := range []string{"processor-1", "processor-2", "ingest", "query"} {
		if !slices.ContainsFunc(c.Services["prometheus"].Volumes, func(v string) bool { return strings.Contains(v, "prometheus.yml") }) {
			t.Errorf("prometheus does not mount deploy/prometheus.yml")
		}
		if _, ok := c.Services["prometheus"].DependsOn[name]; !ok {
			t.Errorf("prometheus does not depend on %s", name)
		}
	}
	if c.Services["processor-1"].Environment["REWIND_INSTANCE_ID"] == c.Services["processor-2"].Environment["REWIND_INSTANCE_ID"] {
		t.Error("the two processors share an instance id")
	}
}

// TestComposeFlagsExist: every REWIND_* variable and every healthcheck of
// a Rewind service names something its binary has.
func TestComposeFlagsExist(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if len(s.Entrypoint) == 0 || !strings.HasPrefix(s.Entrypoint[0], "/usr/local/bin/") {
			continue
		}
		bin := filepath.Base(s.Entrypoint[0])
		flags := flagsOf(t, bin)
		for env, value := range s.Environment {
			if !slices.ContainsFunc(flags, func(f string) bool { return cli.EnvName(f) == env }) {
				t.Errorf("%s: %s=%s matches no flag of %s (%v)", name, env, value, bin, flags)
			}
		}
		hc := s.Healthcheck.Test
		if len(hc) != 4 || hc[0] != "CMD" || hc[1] != s.Entrypoint[0] || hc[2] != "healthcheck" {
			t.Errorf("%s healthcheck %v: want [CMD %s healthcheck URL]", name, hc, s.Entrypoint[0])
			continue
		}
		_, port, _ := strings.Cut(s.Environment["REWIND_HTTP"], ":")
		if !strings.Contains(hc[3], "127.0.0.1:"+port+"/") {
			t.Errorf("%s healthcheck %s is not on REWIND_HTTP's port %s", name, hc[3], port)
		}
		if s.Environment["REWIND_BROKERS"] != "kafka:9092" {
			t.Errorf("%s brokers %q", name, s.Environment["REWIND_BROKERS"])
		}
		if code := cli.Healthcheck([]string{"http://127.0.0.1:1/readyz"}); code != 1 {
			t.Errorf("healthcheck of a closed port exits %d, want 1", code)
		}
	}
}

// TestComposeTopicsMatchContract: kafka-init creates the topics with the
// configs the code ensures, and the partition count the processors use.
func TestComposeTopicsMatchContract(t *testing.T) {
	c := loadCompose(t)
	script := strings.Join(toStrings(c.Services["kafka-init"].Command), "\n")
	for topic, cfg := range topics.Configs(topics.Layout{}) {
		line := regexp.MustCompile(`(?m)^\s*create ` + regexp.QuoteMeta(topic) + `( .*)$`).FindStringSubmatch(script)
		if line == nil {
			t.Errorf("kafka-init does not create %s", topic)
			continue
		}
		for k, v := range cfg {
			if !strings.Contains(line[1], "--config "+k+"="+*v) {
				t.Errorf("kafka-init creates %s without --config %s=%s", topic, k, *v)
			}
		}
	}
	if !strings.Contains(script, "--partitions 12") || c.Services["processor-1"].Environment["REWIND_PARTITIONS"] != "12" {
		t.Error("kafka-init and the processors disagree on the partition count")
	}
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, toStrings(e)...)
		}
		return out
	}
	return nil
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("Dockerfile is not multi-stage: %v", froms)
	}
	final := froms[len(froms)-1][1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage %s: want distroless static or scratch", final)
	}
	users := regexp.MustCompile(`(?m)^USER (\S+)`).FindAllStringSubmatch(df, -1)
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1][1], "root") || strings.HasPrefix(users[len(users)-1][1], "0") {
		t.Errorf("the image must run as non-root: USER %v", users)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/processor", "./cmd/ingest", "./cmd/query", "./cmd/replay"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	// What the build stage runs builds here too, statically.
	out := t.TempDir()
	cmd := exec.Command("go", "build", "-o", out+"/", "./cmd/processor", "./cmd/ingest", "./cmd/query", "./cmd/replay")
	cmd.Dir, cmd.Env = "..", append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v\n%s", err, b)
	}
}

func TestPrometheusConfig(t *testing.T) {
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string                       `yaml:"job_name"`
			StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for _, want := range []string{"processor-1:8081", "processor-2:8081", "ingest:8080", "query:8082"} {
		if !slices.Contains(targets, want) {
			t.Errorf("prometheus.yml does not scrape %s (%v)", want, targets)
		}
	}
	if !slices.Contains(cfg.RuleFiles, "alerts.yml") {
		t.Errorf("prometheus.yml does not load alerts.yml: %v", cfg.RuleFiles)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		for _, args := range [][]string{{"check", "config", "prometheus.yml"}, {"check", "rules", "alerts.yml"}} {
			if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
				t.Errorf("promtool %v: %v\n%s", args, err, out)
			}
		}
	}
}

func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr, For string
			}
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	byName := map[string]struct{ Expr, For string }{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			byName[r.Alert] = struct{ Expr, For string }{r.Expr, r.For}
		}
	}
	want := map[string][]string{ // the alerts: what each must look at
		"RewindConsumerLagGrowing":  {"rewind_processor_consumer_lag", "deriv", "5m"},
		"RewindNoCommitsWithLag":    {`rewind_processor_transactions_total{result="committed"}[2m]`, "rewind_processor_consumer_lag"},
		"RewindProcessorDown":       {`up{job="rewind-processor"}`},
		"RewindTransactionAborts":   {"aborted", "0.01"},
		"RewindRestoreTooLong":      {"rewind_processor_restoring_partitions"},
		"RewindQueryRebuildTooLong": {"rewind_query_rebuilding", "30m"},
		"RewindLogicVersionsMixed":  {"rewind_processor_logic_version"},
		// A takeover past its bound: beyond the session timeout, which
		// the histogram does not include.
		"RewindSlowTakeover": {"rewind_processor_takeover_seconds_count", `rewind_processor_takeover_seconds_bucket{le="5"}`},
		// A replica rebuilding is behind on purpose, and says so.
		"RewindQueryViewLagging": {"rewind_query_view_lag", "unless on (instance) rewind_query_rebuilding"},
	}
	for name, parts := range want {
		r, ok := byName[name]
		if !ok {
			t.Errorf("alert %s missing", name)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(r.Expr+" for "+r.For, p) {
				t.Errorf("alert %s: %q lacks %s", name, r.Expr, p)
			}
		}
	}
	if byName["RewindConsumerLagGrowing"].For != "5m" || byName["RewindRestoreTooLong"].For != "10m" {
		t.Error("lag growing must hold 5m and restore 10m")
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	b, err := os.ReadFile("grafana/dashboards/rewind.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	all := ""
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			all += tg.Expr + "\n"
		}
	}
	for _, metric := range []string{"rewind_processor_consumer_lag", "rewind_processor_commands_total", "rewind_processor_events_total",
		"rewind_processor_batch_seconds_bucket", "rewind_processor_transactions_total", "rewind_processor_restore_remaining",
		"rewind_processor_standby_lag", "rewind_processor_restore_seconds_bucket",
		"rewind_ingest_wait_seconds_bucket", "rewind_query_request_seconds_bucket", "rewind_query_view_lag",
		"rewind_processor_logic_version", "rewind_query_logic_version", "rewind_query_rebuilding"} {
		if !strings.Contains(all, metric) {
			t.Errorf("dashboard has no panel on %s", metric)
		}
	}
	var provider struct {
		Providers []struct{ Options struct{ Path string } }
	}
	pb, err := os.ReadFile("grafana/provisioning/dashboards/rewind.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(pb, &provider); err != nil || len(provider.Providers) == 0 {
		t.Fatalf("dashboard provider: %v", err)
	}
	c := loadCompose(t)
	mounted := false
	for _, v := range c.Services["grafana"].Volumes {
		mounted = mounted || strings.HasSuffix(v, ":"+provider.Providers[0].Options.Path+":ro")
	}
	if !mounted {
		t.Errorf("grafana does not mount the dashboards where the provider reads them (%s)", provider.Providers[0].Options.Path)
	}
	if _, err := os.Stat("grafana/provisioning/datasources/prometheus.yml"); err != nil {
		t.Error(err)
	}
}
