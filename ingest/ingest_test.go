package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/ingest"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/inproc"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/topics"
)

const (
	tokenA = "token-of-clinic-a"
	tokenB = "token-of-clinic-b"
	// tokenAuditor reads clinic-a's schedules (query) and may not write.
	tokenAuditor = "token-of-clinic-a-auditor"
	// tokenOfficerA and tokenOfficerB erase personal data, each of its
	// clinic, and may do nothing else.
	tokenOfficerA = "token-of-clinic-a-privacy-officer"
	tokenOfficerB = "token-of-clinic-b-privacy-officer"
)

type env struct {
	url     string
	brokers string
	tokens  *api.Tokens
	srv     *ingest.Server
	cluster interface{ Close() }
	reg     *prometheus.Registry
}

// seen records "METHOD /pattern STATUS" of every answer, for the OpenAPI
// test.
var seen = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

func recording(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		// The services' own recorder: the handlers reach the connection
		// (flushes) through its Unwrap.
		sw := api.NewStatusRecorder(w)
		mux.ServeHTTP(sw, r)
		seen.Lock()
		seen.m[fmt.Sprintf("%s %d", pattern, sw.Status)] = true
		seen.Unlock()
	})
}

// setupTokens writes the tokens file of the tests: clinic-a's desk-1
// (no scope column: read and write), clinic-b's desk-9 (read,write),
// clinic-a's auditor (read only), and each clinic's privacy officer
// (erase only).
func setupTokens(t *testing.T) *env {
	t.Helper()
	return &env{tokens: testkit.Tokens(t, filepath.Join(t.TempDir(), "tokens"),
		"# test tokens\n"+api.HashToken(tokenA)+" clinic-a desk-1\n"+api.HashToken(tokenB)+" clinic-b desk-9 read,write\n"+
			api.HashToken(tokenAuditor)+" clinic-a auditor read\n"+
			api.HashToken(tokenOfficerA)+" clinic-a dpo-a erase\n"+api.HashToken(tokenOfficerB)+" clinic-b dpo-b erase\n")}
}

// setup runs kfake, the real processor and an ingest server over HTTP.
func setup(t *testing.T, opts ...kfake.Opt) *env {
	t.Helper()
	return setupProcessor(t, func(*processor.Config) {}, opts...)
}

// setupProcessor is setup with the processor's configuration changed by
// procOpt.
func setupProcessor(t *testing.T, procOpt func(*processor.Config), opts ...kfake.Opt) *env {
	t.Helper()
	c, brokers := testkit.Cluster(t, opts...)
	testkit.Topics(t, brokers, 4)
	tk := setupTokens(t).tokens
	// The processor's assignments and restores, shown when a test fails:
	// an answer that came late is then explained.
	p := inproc.Run(t, brokers, 4, "p1", filepath.Join(t.TempDir(), "p"),
		func(c *processor.Config) { c.Logger = testkit.Logger(t, slog.LevelInfo) }, procOpt)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := ingest.NewWaiter(context.Background(), []kgo.Opt{kgo.SeedBrokers(brokers)}, 1000, testkit.Logger(t, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { _ = w.Run(ctx); close(ran) }()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(2*time.Second),
		kgo.RecordPartitioner(topics.CommandPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ingest.New(ingest.Config{Producer: prod, Waiter: w, Tokens: tk, Kind: schedule.Kind,
		Erasures: testkit.Signer(t), ProduceTimeout: 2 * time.Second, Access: testkit.AccessLogger(t, brokers, "ingest")})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Routes(mux)
	hs := httptest.NewServer(recording(mux))
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-ran // it logs to the test until it returns
		_ = p.Stop(t)
		prod.Close()
	})
	// Loaded too: an unknown id is 503 outcomes_loading until then.
	if !testkit.Eventually(time.Minute, func() bool { return w.Ready() && w.Loaded() && p.Ready() }) {
		t.Fatal("the waiter and the processor are not ready in a minute")
	}
	go srv.Watch(ctx)
	return &env{url: hs.URL, brokers: brokers, tokens: tk, srv: srv, cluster: c}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (e *env) do(t *testing.T, method, path, token, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return reply{resp.StatusCode, resp.Header, m}
}

const reserve = `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`

// TestStatusCodes walks every answer of POST and GET over HTTP, against
// the real processor.
func TestStatusCodes(t *testing.T) { statusCodes(t, setup(t)) }

func statusCodes(t *testing.T, e *env) {
	post := "/v1/schedules/visit-1/commands/"

	r := e.do(t, "POST", post+"Reserve", tokenA, reserve, "Idempotency-Key", "k1")
	if r.status != 200 || r.header.Get("ETag") != `"1"` || r.body["status"] != "accepted" {
		t.Fatalf("accepted: %d %v %v", r.status, r.header.Get("ETag"), r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	r = e.do(t, "POST", post+"Reserve", tokenA, reserve, "Idempotency-Key", "k1")
	if r.status != 200 || r.body["status"] != "duplicate" || r.body["firstStatus"] != "accepted" || r.header.Get("ETag") != `"1"` {
		t.Fatalf("duplicate: %d %v", r.status, r.body)
	}
	// The same key with another command is refused, and changes nothing;
	// the exact retry is still a duplicate.
	r = e.do(t, "POST", post+"CheckIn", tokenA, `{"channel":"desk"}`, "Idempotency-Key", "k1")
	if r.status != 422 || r.body["code"] != "idempotency_key_reused" || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("reused key: %d %v", r.status, r.body)
	}
	r = e.do(t, "POST", post+"Reserve", tokenA, reserve, "Idempotency-Key", "k1")
	if r.status != 200 || r.body["status"] != "duplicate" || r.body["version"] != 1.0 {
		t.Fatalf("exact retry after a reused key: %d %v", r.status, r.body)
	}
	// Rejections are problem documents like every error, with the
	// result's members as extensions; a retry of one says it is a
	// duplicate.
	r = e.do(t, "POST", post+"Reserve", tokenA, reserve, "Idempotency-Key", "k2")
	if r.status != 409 || r.body["code"] != "already_reserved" || r.body["status"] != 409.0 || r.body["commandId"] != "k2" ||
		r.body["version"] != 1.0 || r.body["type"] != "https://rewind.dev/problems/already_reserved" || r.body["detail"] == "" ||
		r.body["duplicate"] != nil || r.header.Get("Content-Type") != "application/problem+json" || r.header.Get("ETag") != "" {
		t.Fatalf("rejected: %d %v %v", r.status, r.body, r.header)
	}
	r = e.do(t, "POST", post+"Reserve", tokenA, reserve, "Idempotency-Key", "k2")
	if r.status != 409 || r.body["code"] != "already_reserved" || r.body["duplicate"] != true {
		t.Fatalf("retry of a rejection: %d %v", r.status, r.body)
	}
	r = e.do(t, "POST", post+"CheckIn", tokenA, `{"channel":"desk"}`, "If-Match", `"0"`)
	if r.status != 412 || r.body["code"] != "version_conflict" || r.body["version"] != 1.0 ||
		r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("version conflict: %d %v", r.status, r.body)
	}
	r = e.do(t, "POST", post+"CheckIn", tokenA, `{"channel":"desk"}`, "If-Match", `"1"`)
	if r.status != 200 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("matching If-Match: %d %v", r.status, r.body)
	}
	for _, tt := range []struct {
		path, body string
		status     int
		code       string
		headers    []string
	}{
		{post + "Reserve", `{"visitorId":`, 400, "malformed", nil},
		{post + "Reserve", `{"visitorId":"v1","tenant":"x"}`, 400, "unknown_field", nil},
		{post + "Reserve", `{"visitorId":"v1","start":"2026-03-02T11:00:00Z","end":"2026-03-02T10:00:00Z"}`, 400, "invalid_time_range", nil},
		{post + "Teleport", `{}`, 404, "unknown_type", nil},
		{"/v1/schedules/..%2Fetc/commands/Reserve", reserve, 400, "invalid_id", nil},
		{"/v1/schedules/a:b/commands/Reserve", `{"visitorId":"../x","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, 400, "invalid_id", nil},
		{post + "Reserve", `{"visitorId":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "too_large", nil},
		{post + "CheckIn", `{"channel":"desk"}`, 400, "bad_parameter", []string{"If-Match", "yesterday"}},
		{post + "CheckIn", `{"channel":"desk"}`, 400, "bad_parameter", []string{"X-Ignored", "", "Idempotency-Key", strings.Repeat("k", 300)}},
		{post + "CheckIn", `{"channel":"desk"}`, 403, "forbidden", []string{"Ce-Tenantid", "clinic-b"}},
		{post + "CheckIn", `{"channel":"desk"}`, 403, "forbidden", []string{"X-Initiator", "admin"}},
	} {
		r := e.do(t, "POST", tt.path, tokenA, tt.body, tt.headers...)
		if r.status != tt.status || r.body["code"] != tt.code || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %.40s: got %d %v, want %d %s", tt.path, tt.body, r.status, r.body, tt.status, tt.code)
		}
	}
	// The problems say what to send instead.
	if r := e.do(t, "POST", post+"Teleport", tokenA, `{}`); !strings.Contains(fmt.Sprint(r.body["detail"]), "CancelReservation, CheckIn, CheckOut") {
		t.Errorf("unknown_type does not list the command types: %v", r.body)
	}
	if r := e.do(t, "POST", post+"Reserve", tokenA, `{"visitorId":"v1","start":"tomorrow","end":"2026-03-02T11:00:00Z"}`); r.status != 400 ||
		!strings.Contains(fmt.Sprint(r.body["detail"]), "field start") || strings.Contains(fmt.Sprint(r.body["detail"]), "2006-01-02") {
		t.Errorf("a bad date: %d %v", r.status, r.body)
	}
	authorization(t, e)
	outcomesByID(t, e)
}

// authorization: no token or a wrong one is a 401, a read-only token a
// 403 insufficient_scope on every route of ingest.
func authorization(t *testing.T, e *env) {
	post := "/v1/schedules/visit-1/commands/"
	if r := e.do(t, "POST", post+"CheckOut", "", `{}`); r.status != 401 || r.body["code"] != "unauthorized" {
		t.Errorf("no token: %d %v", r.status, r.body)
	}
	if r := e.do(t, "POST", post+"CheckOut", "wrong", `{}`); r.status != 401 {
		t.Errorf("bad token: %d %v", r.status, r.body)
	}
	// A read-only token writes nothing: ingest needs the write scope.
	if r := e.do(t, "POST", post+"CheckOut", tokenAuditor, `{}`); r.status != 403 || r.body["code"] != "insufficient_scope" ||
		!strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("read-only token: %d %v %v", r.status, r.header, r.body)
	}
	if r := e.do(t, "POST", "/v1/commands", tokenAuditor, `{"scheduleId":"visit-1","type":"CheckOut"}`); r.status != 403 || r.body["code"] != "insufficient_scope" {
		t.Errorf("read-only token, batch: %d %v", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/commands/k1", tokenAuditor, ""); r.status != 403 || r.body["code"] != "insufficient_scope" {
		t.Errorf("read-only token, GET: %d %v", r.status, r.body)
	}
}

// outcomesByID: ?wait=0 answers 202 at once, and GET /v1/commands/{id}
// finds the outcome, waiting as a POST does; ?wait= is bounded.
func outcomesByID(t *testing.T, e *env) {
	// ?wait=0 answers 202 at once; the outcome is then found by id.
	r := e.do(t, "POST", "/v1/schedules/visit-2/commands/Reserve?wait=0", tokenA, reserve, "Idempotency-Key", "later")
	if r.status != 202 || r.header.Get("Location") != "/v1/commands/later" {
		t.Fatalf("wait=0: %d %v %v", r.status, r.header, r.body)
	}
	// GET waits for it with ?wait=, as a POST does.
	r = e.do(t, "GET", "/v1/commands/later?wait=10s", tokenA, "")
	if r.status != 200 || r.body["status"] != "accepted" {
		t.Fatalf("GET outcome: %d %v", r.status, r.body)
	}
	// After a retry (answered as a duplicate) the id still answers its
	// own outcome.
	if r := e.do(t, "POST", "/v1/schedules/visit-2/commands/Reserve", tokenA, reserve, "Idempotency-Key", "later"); r.body["status"] != "duplicate" {
		t.Fatalf("retry: %d %v", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/commands/later", tokenA, ""); r.status != 200 || r.body["status"] != "accepted" {
		t.Fatalf("GET after a retry: %d %v", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/commands/later?wait=soon", tokenA, ""); r.status != 400 || r.body["code"] != "bad_parameter" {
		t.Fatalf("GET with a bad wait: %d %v", r.status, r.body)
	}
	// A wait over 30 s is refused, as on the query service, not cut
	// short; a refused POST sends nothing.
	if r := e.do(t, "GET", "/v1/commands/later?wait=31s", tokenA, ""); r.status != 400 || r.body["code"] != "bad_parameter" {
		t.Fatalf("GET with a wait over 30s: %d %v", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/schedules/visit-9/commands/Reserve?wait=1h", tokenA, reserve, "Idempotency-Key", "too-long"); r.status != 400 ||
		r.body["code"] != "bad_parameter" || !strings.Contains(fmt.Sprint(r.body["detail"]), "30s") {
		t.Fatalf("POST with a wait over 30s: %d %v", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/commands/too-long", tokenA, ""); r.status != 404 {
		t.Fatalf("the refused command was sent: %d %v", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/commands/never-sent", tokenA, ""); r.status != 404 || r.body["code"] != "unknown_command" {
		t.Fatalf("GET unknown: %d %v", r.status, r.body)
	}
}

// TestTenantIsolation: tenant B can neither read nor write tenant A's.
func TestTenantIsolation(t *testing.T) { tenantIsolation(t, setup(t)) }

func tenantIsolation(t *testing.T, e *env) {
	if r := e.do(t, "POST", "/v1/schedules/shared-id/commands/Reserve", tokenA, reserve, "Idempotency-Key", "a-1"); r.status != 200 {
		t.Fatalf("A reserve: %d %v", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/commands/a-1", tokenB, ""); r.status != 404 {
		t.Fatalf("B read A's command: %d %v", r.status, r.body)
	}
	// The same schedule id under B's token is B's own schedule: it is
	// new, so B's CheckIn without a reservation is a walk-in needing a
	// visitor, and A's reservation is untouched.
	r := e.do(t, "POST", "/v1/schedules/shared-id/commands/Reserve", tokenB, reserve, "Idempotency-Key", "a-1")
	if r.status != 200 || r.body["status"] != "accepted" || r.body["tenantId"] != "clinic-b" || r.body["version"] != 1.0 {
		t.Fatalf("B's own schedule: %d %v", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/schedules/shared-id/commands/CheckIn", tokenA, `{"channel":"desk"}`); r.status != 200 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("A's schedule changed by B: %d %v", r.status, r.body)
	}
}

// TestKafkaDown: with the broker gone, a command is answered 503, never
// 2xx.
func TestKafkaDown(t *testing.T) { kafkaDown(t, setup(t)) }

func kafkaDown(t *testing.T, e *env) {
	e.cluster.Close()
	r := e.do(t, "POST", "/v1/schedules/visit-9/commands/Reserve", tokenA, reserve)
	if r.status != 503 || r.body["code"] != "kafka_unavailable" {
		t.Fatalf("kafka down: %d %v", r.status, r.body)
	}
}

// TestKafkaDownAndBack: 503 while the broker is gone, then 200 again once
// it is back on its data dir, without restarting ingest or the processor.
func TestKafkaDownAndBack(t *testing.T) {
	addr := testkit.FreeAddr(t)
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	dir := t.TempDir()
	opts := []kfake.Opt{kfake.Ports(port), kfake.DataDir(dir)}
	e := setup(t, opts...)
	if r := e.do(t, "POST", "/v1/schedules/v1/commands/Reserve", tokenA, reserve); r.status != 200 {
		t.Fatalf("before: %d %v", r.status, r.body)
	}
	waitReady(t, e.srv, true)
	e.cluster.Close()
	if r := e.do(t, "POST", "/v1/schedules/v2/commands/Reserve", tokenA, reserve); r.status != 503 {
		t.Fatalf("down: %d %v", r.status, r.body)
	}
	waitReady(t, e.srv, false)
	testkit.Cluster(t, opts...)
	waitReady(t, e.srv, true)
	var r reply
	back := testkit.Eventually(time.Minute, func() bool {
		r = e.do(t, "POST", "/v1/schedules/v3/commands/Reserve", tokenA, reserve, "Idempotency-Key", "back")
		return r.status == 200
	})
	if !back {
		t.Fatalf("not back within a minute: %d %v", r.status, r.body)
	}
}

// TestTwoInstances: two ingest instances on one cluster; each sees every
// outcome, so a command sent through one is found through the other.
func TestTwoInstances(t *testing.T) {
	e := setup(t)
	url, w, _ := instance(t, e, 1000)
	if !testkit.Eventually(time.Minute, func() bool { return w.Ready() && w.Loaded() }) {
		t.Fatal("the second waiter is not ready in a minute")
	}
	other := &env{url: url}
	if r := other.do(t, "POST", "/v1/schedules/two/commands/Reserve", tokenA, reserve, "Idempotency-Key", "via-2"); r.status != 200 {
		t.Fatalf("via the second instance: %d %v", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/schedules/two/commands/CheckIn", tokenA, `{"channel":"app"}`, "Idempotency-Key", "via-1"); r.status != 200 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("via the first instance: %d %v", r.status, r.body)
	}
	for _, tt := range []struct {
		e  *env
		id string
	}{{e, "via-2"}, {other, "via-1"}} {
		// Each instance learns outcomes from its own results consumer, so
		// the other one may see an outcome a moment after the answer.
		var r reply
		found := testkit.Eventually(10*time.Second, func() bool {
			r = tt.e.do(t, "GET", "/v1/commands/"+tt.id, tokenA, "")
			return r.status != 404
		})
		if !found || r.status != 200 {
			t.Fatalf("GET %s through the other instance: %d %v", tt.id, r.status, r.body)
		}
	}
}

// waitReady waits until the server's readiness is want.
func waitReady(t *testing.T, s *ingest.Server, want bool) {
	t.Helper()
	if !testkit.Eventually(30*time.Second, func() bool { return s.Ready() == want }) {
		t.Fatalf("readiness did not become %v", want)
	}
}

// TestCommandTime: a caller says when a command happened with Ce-Time
// (a line's "time" in a batch), as a producer on the commands topic does
// with ce_time, and its events carry that time. A bad or future time is
// refused before anything is sent.
func TestCommandTime(t *testing.T) {
	e := setup(t)
	at := "2026-03-02T09:58:00.5Z"
	if r := e.do(t, "POST", "/v1/schedules/timed-1/commands/Reserve", tokenA, reserve, "Ce-Time", at); r.status != 200 {
		t.Fatalf("with Ce-Time: %d %v", r.status, r.body)
	}
	body := `{"scheduleId":"timed-2","type":"Reserve","time":"2026-03-02T09:59:00+09:00","data":` + reserve + "}\n" +
		`{"scheduleId":"timed-3","type":"Reserve","time":"at nine","data":` + reserve + "}\n"
	req, _ := http.NewRequest("POST", e.url+"/v1/commands?wait=10s", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lines := ndjsonLines(t, resp.Body)
	resp.Body.Close()
	if len(lines) != 2 || lines[0]["status"] != "accepted" || lines[1]["problem"].(map[string]any)["code"] != "bad_parameter" {
		t.Fatalf("batch with times: %v", lines)
	}
	for _, bad := range []string{"yesterday", time.Now().Add(2 * time.Minute).Format(time.RFC3339)} {
		r := e.do(t, "POST", "/v1/schedules/timed-4/commands/Reserve", tokenA, reserve, "Ce-Time", bad)
		if r.status != 400 || r.body["code"] != "bad_parameter" || !strings.Contains(fmt.Sprint(r.body["detail"]), "Ce-Time") {
			t.Errorf("Ce-Time %q: %d %v", bad, r.status, r.body)
		}
	}
	want := map[string]string{"timed-1": "2026-03-02T09:58:00.5Z", "timed-2": "2026-03-02T00:59:00Z"}
	for _, r := range logcheck.ReadAll(t, e.brokers).Events {
		ev, err := topics.DecodeEvent(r)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[ev.Envelope.Stream]; ok {
			if got := ev.Envelope.Time.Format(time.RFC3339Nano); got != w {
				t.Errorf("%s: event time %s, want %s", ev.Envelope.Stream, got, w)
			}
			delete(want, ev.Envelope.Stream)
		} else if strings.HasPrefix(ev.Envelope.Stream, "timed-") {
			t.Errorf("a refused command has an event: %s", ev.Envelope.Stream)
		}
	}
	if len(want) > 0 {
		t.Errorf("no events for %v", want)
	}
}
