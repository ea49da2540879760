package ingest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/ingest"
	"github.com/rewind/rewind/internal/testing/testkit"
)

// instance runs one more ingest on brokers, with its own waiter and
// history; stop ends it (and closes the history).
func instance(t *testing.T, e *env, maxRecent int, options ...ingest.WaiterOption) (url string, w *ingest.Waiter, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := ingest.NewWaiter(ctx, []kgo.Opt{kgo.SeedBrokers(e.brokers)}, maxRecent, nil, options...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	prod, err := kgo.NewClient(kgo.SeedBrokers(e.brokers), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ingest.New(ingest.Config{Producer: prod, Waiter: w, Tokens: e.tokens, Kind: schedule.Kind,
		Access: testkit.AccessLogger(t, e.brokers, "ingest")})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Routes(mux)
	hs := httptest.NewServer(recording(mux))
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			hs.Close()
			cancel()
			<-done
			prod.Close()
		}
	}
	t.Cleanup(stop)
	return hs.URL, w, stop
}

// TestOutcomeHistory: GET /v1/commands/{id} answers any outcome still on
// schedule-results, on any instance: one that started after the command
// (it reads the topic first, and says so meanwhile), one whose recent
// outcomes have moved on, and one restarted on its directory.
func TestOutcomeHistory(t *testing.T) {
	e := fakeEnv(t, 0)
	for _, id := range []string{"h-1", "h-2", "h-3"} {
		if r := e.do(t, "POST", "/v1/schedules/s-"+id+"/commands/CheckIn?wait=5s", tokenA, `{"channel":"desk","visitorId":"v1"}`, "Idempotency-Key", id); r.status != 200 {
			t.Fatalf("POST %s: %d %v", id, r.status, r.body)
		}
	}
	dir := filepath.Join(t.TempDir(), "history")
	// A second instance, started after the outcomes, keeping one recent
	// outcome: the others come from its history.
	url, w, stop := instance(t, e, 1, ingest.WithHistory(dir, ingest.DefaultHistoryRetention))
	other := &env{url: url, tokens: e.tokens}
	for _, id := range []string{"h-1", "h-2", "h-3"} {
		r := other.do(t, "GET", "/v1/commands/"+id+"?wait=5s", tokenA, "")
		if r.status != 200 || r.body["status"] != "accepted" || r.body["commandId"] != id {
			t.Fatalf("GET %s on the other instance: %d %v", id, r.status, r.body)
		}
	}
	// The outcomes can be found while the backfill still runs; an id
	// that is nowhere is 404 once it has finished.
	waitLoaded(t, w)
	if r := other.do(t, "GET", "/v1/commands/never-sent", tokenA, ""); r.status != 404 || r.body["code"] != "unknown_command" {
		t.Fatalf("GET an unknown id: %d %v", r.status, r.body)
	}
	// Another tenant's id is unknown, history or not.
	if r := other.do(t, "GET", "/v1/commands/h-1", tokenB, ""); r.status != 404 {
		t.Fatalf("GET another tenant's command: %d %v", r.status, r.body)
	}
	stop()

	// More outcomes while it is down; restarted on its directory, it
	// knows the old ones at once and reads only the gap.
	if r := e.do(t, "POST", "/v1/schedules/s-h-4/commands/CheckIn?wait=5s", tokenA, `{"channel":"desk","visitorId":"v1"}`, "Idempotency-Key", "h-4"); r.status != 200 {
		t.Fatalf("POST h-4: %d", r.status)
	}
	url, w, _ = instance(t, e, 1, ingest.WithHistory(dir, ingest.DefaultHistoryRetention))
	other = &env{url: url, tokens: e.tokens}
	for _, id := range []string{"h-1", "h-4"} {
		if r := other.do(t, "GET", "/v1/commands/"+id+"?wait=5s", tokenA, ""); r.status != 200 || r.body["commandId"] != id {
			t.Fatalf("GET %s after a restart: %d %v", id, r.status, r.body)
		}
	}
	waitLoaded(t, w)
}

func waitLoaded(t *testing.T, w *ingest.Waiter) {
	t.Helper()
	if !testkit.Eventually(10*time.Second, w.Loaded) {
		t.Fatal("the outcome history did not load")
	}
}
