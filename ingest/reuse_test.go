package ingest_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/ingest"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/topics"
)

// fakeProcessor answers every command on schedule-commands the way the
// processor does, with one twist the test controls: a command whose id
// starts with "reused-" is rejected idempotency_key_reused (what the
// processor answers a known id sent with another command), and one whose
// id starts with "silent-" is never answered.
func fakeProcessor(t *testing.T, brokers string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics.Commands),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				h := map[string]string{}
				for _, kv := range r.Headers {
					h[kv.Key] = string(kv.Value)
				}
				id := h[topics.HeaderID]
				res := topics.Result{CommandID: id, TenantID: h[topics.HeaderTenant], Status: topics.StatusAccepted, Version: 1}
				switch {
				case strings.HasPrefix(id, "silent-"):
					return
				case strings.HasPrefix(id, "reused-"):
					res.Status, res.Code, res.Message, res.Version = topics.StatusRejected, api.CodeIdempotencyKeyReused, "the id was used for another command", 0
				}
				cl.Produce(ctx, topics.ResultRecord(&res, r.Key, r.Partition), nil)
			})
		}
	}()
}

// fakeEnv is ingest over HTTP on a broker whose commands fakeProcessor
// answers.
func fakeEnv(t *testing.T, maxWaiting int) *env {
	t.Helper()
	brokers := testkit.Kafka(t, 4)
	e := setupTokens(t)
	fakeProcessor(t, brokers)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := ingest.NewWaiter(ctx, []kgo.Opt{kgo.SeedBrokers(brokers)}, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	e.reg = prometheus.NewRegistry()
	srv, err := ingest.New(ingest.Config{Producer: prod, Waiter: w, Tokens: e.tokens, Kind: schedule.Kind, MaxWaiting: maxWaiting,
		Registerer: e.reg, Access: testkit.AccessLogger(t, brokers, "ingest")})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Routes(mux)
	hs := httptest.NewServer(recording(mux))
	t.Cleanup(func() { hs.Close(); cancel(); <-done; prod.Close() })
	if !testkit.Eventually(time.Minute, func() bool { return w.Ready() && w.Loaded() }) {
		t.Fatal("the waiter is not ready in a minute")
	}
	e.url, e.brokers, e.srv = hs.URL, brokers, srv
	return e
}

// TestIdempotencyKeyReused: a result that refuses a reused key is
// answered 422 idempotency_key_reused, a problem, never an outcome: on
// POST, in a batch line, and on GET /v1/commands/{id}.
func TestIdempotencyKeyReused(t *testing.T) { reusedKey(t, fakeEnv(t, 0)) }

func reusedKey(t *testing.T, e *env) {
	r := e.do(t, "POST", "/v1/schedules/visit-1/commands/CheckIn", tokenA, `{"channel":"desk"}`, "Idempotency-Key", "reused-1")
	if r.status != http.StatusUnprocessableEntity || r.body["code"] != api.CodeIdempotencyKeyReused ||
		r.header.Get("Content-Type") != "application/problem+json" || r.header.Get("ETag") != "" ||
		!strings.Contains(r.body["detail"].(string), "reused-1") {
		t.Fatalf("POST with a reused key: %d %v %v", r.status, r.header, r.body)
	}
	if r := e.do(t, "GET", "/v1/commands/reused-1", tokenA, ""); r.status != http.StatusUnprocessableEntity || r.body["code"] != api.CodeIdempotencyKeyReused {
		t.Fatalf("GET of a reused key: %d %v", r.status, r.body)
	}
	// The fake accepts the others: the 422 is the key's, not ingest's.
	if r := e.do(t, "POST", "/v1/schedules/visit-2/commands/CheckIn", tokenA, `{"channel":"desk"}`, "Idempotency-Key", "fresh-1"); r.status != 200 {
		t.Fatalf("POST with a fresh key: %d %v", r.status, r.body)
	}

	body := `{"scheduleId":"b1","type":"CheckIn","data":{"channel":"desk"},"idempotencyKey":"fresh-2"}` + "\n" +
		`{"scheduleId":"b2","type":"CheckIn","data":{"channel":"desk"},"idempotencyKey":"reused-2"}` + "\n"
	req, _ := http.NewRequest("POST", e.url+"/v1/commands?wait=10s", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := ndjsonLines(t, resp.Body)
	if len(lines) != 2 || lines[0]["status"] != "accepted" {
		t.Fatalf("batch: %v", lines)
	}
	p, _ := lines[1]["problem"].(map[string]any)
	if p == nil || p["code"] != api.CodeIdempotencyKeyReused || p["status"] != 422.0 || lines[1]["status"] != nil {
		t.Fatalf("batch line with a reused key: %v", lines[1])
	}
	c := &apiclient.Client{Ingest: e.url, Token: tokenA}
	sum, err := c.Import(context.Background(), strings.NewReader(body), 10, nil)
	if err != nil || sum.Failed != 1 || sum.Accepted != 1 {
		t.Fatalf("import counts a reused key as failed: %v %v", sum, err)
	}
}

// TestWaitingBound: past MaxWaiting requests waiting at once, a request
// that would wait is answered 503 too_many_waiting with Retry-After
// before anything is produced; one that does not wait (?wait=0) is not
// bounded; and the slot is free again once the wait ends.
func TestWaitingBound(t *testing.T) { waitingBound(t, fakeEnv(t, 1)) }

func waitingBound(t *testing.T, e *env) {
	// A batch holds the only slot while its body is still arriving.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", e.url+"/v1/commands?wait=10s", pr)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	batch := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		batch <- resp
	}()
	if _, err := io.WriteString(pw, `{"scheduleId":"held","type":"CheckIn","data":{"channel":"desk"},"idempotencyKey":"held-1"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	if !testkit.Eventually(10*time.Second, func() bool { return testkit.Metric(t, e.reg, "rewind_ingest_waiting_requests") == 1 }) {
		t.Fatal("the batch is not waiting")
	}
	r := e.do(t, "POST", "/v1/schedules/v/commands/CheckIn?wait=1s", tokenA, `{"channel":"desk"}`)
	if r.status != http.StatusServiceUnavailable || r.body["code"] != api.CodeTooManyWaiting || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the bound: %d %v %v", r.status, r.header, r.body)
	}
	if r := e.do(t, "POST", "/v1/schedules/v/commands/CheckIn?wait=0", tokenA, `{"channel":"desk"}`); r.status != http.StatusAccepted {
		t.Fatalf("?wait=0 is not bounded: %d %v", r.status, r.body)
	}
	pw.Close()
	resp := <-batch
	if resp == nil || resp.StatusCode != 200 {
		t.Fatalf("the held batch: %v", resp)
	}
	resp.Body.Close()
	freed := testkit.Eventually(10*time.Second, func() bool {
		r = e.do(t, "POST", "/v1/schedules/v2/commands/CheckIn", tokenA, `{"channel":"desk"}`)
		return r.status == 200
	})
	if !freed {
		t.Fatalf("after the batch ended, the slot is not free: %d %v", r.status, r.body)
	}
}

// TestBatchStreamsOutcomes: a batch answers each line as soon as its
// outcome is in: the first line of a batch whose second waits for an
// outcome that never comes arrives long before the second (flushed
// through the metrics recorder, which must keep http.Flusher reachable).
func TestBatchStreamsOutcomes(t *testing.T) {
	e := fakeEnv(t, 0)
	body := `{"scheduleId":"s1","type":"CheckIn","idempotencyKey":"fast-1","data":{"channel":"desk","visitorId":"v1"}}
{"scheduleId":"s2","type":"CheckIn","idempotencyKey":"silent-1","data":{"channel":"desk","visitorId":"v2"}}
`
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/commands?wait=3s", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokenA)
	req.Header.Set("Content-Type", "application/x-ndjson")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() {
		t.Fatal("no first line")
	}
	first := time.Since(start)
	if !strings.Contains(lines.Text(), `"accepted"`) {
		t.Fatalf("first line: %s", lines.Text())
	}
	if !lines.Scan() {
		t.Fatal("no second line")
	}
	last := time.Since(start)
	if !strings.Contains(lines.Text(), `"pending"`) {
		t.Fatalf("second line: %s", lines.Text())
	}
	if first > 2*time.Second || last < 3*time.Second {
		t.Fatalf("first line after %s, second after %s: the first was held back", first, last)
	}
}
