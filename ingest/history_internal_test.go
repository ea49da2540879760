package ingest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/topics"
)

func putResults(t *testing.T, h *history, at time.Time, rs ...topics.Result) {
	t.Helper()
	b := h.db.NewBatch()
	defer b.Close()
	pending := map[string]topics.Result{}
	for _, r := range rs {
		if err := h.put(b, pending, r, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryKeepsOwnOutcomeAndSweeps: a retry's duplicate never replaces
// the command's own outcome; the sweep deletes what is past the
// retention, but not an id used again since.
func TestHistoryKeepsOwnOutcomeAndSweeps(t *testing.T) {
	h, err := openHistory("", 24*time.Hour, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	own := topics.Result{CommandID: "c1", TenantID: "a", Status: topics.StatusAccepted, Version: 1}
	dup := topics.Result{CommandID: "c1", TenantID: "a", Status: topics.StatusDuplicate, FirstStatus: topics.StatusAccepted, Version: 1}
	// A duplicate first (the own outcome's record expired), then the own
	// one; then a retry again: the own outcome stays.
	putResults(t, h, t0, dup)
	putResults(t, h, t0, own, dup)
	if got, ok, err := h.get(key("a", "c1")); err != nil || !ok || got.Status != topics.StatusAccepted {
		t.Fatalf("own outcome: %+v %v %v", got, ok, err)
	}
	// c2 is older than the retention; c3 was used two days ago and again
	// now.
	putResults(t, h, t0.Add(-48*time.Hour), topics.Result{CommandID: "c2", TenantID: "a", Status: topics.StatusRejected, Code: "closed"},
		topics.Result{CommandID: "c3", TenantID: "a", Status: topics.StatusDuplicate})
	putResults(t, h, t0, topics.Result{CommandID: "c3", TenantID: "a", Status: topics.StatusAccepted, Version: 2})
	n, err := h.sweep(t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	for id, want := range map[string]bool{"c1": true, "c2": false, "c3": true} {
		if _, ok, _ := h.get(key("a", id)); ok != want {
			t.Errorf("%s after the sweep: found %v, want %v", id, ok, want)
		}
	}
}

// TestOutcomesLoading: while the history is being read, an id not found
// is answered 503 outcomes_loading with Retry-After, not 404; once
// loaded, 404.
func TestOutcomesLoading(t *testing.T) {
	h, err := openHistory("", time.Hour, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	w := &Waiter{history: h, log: slog.New(slog.DiscardHandler), waiting: map[string]map[*Ticket]struct{}{},
		recent: map[string]topics.Result{}, order: make([]string, 1)}
	prod, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	tokens := testkit.Tokens(t, filepath.Join(t.TempDir(), "tokens"), api.HashToken("tok")+" a desk\n")
	srv, err := New(Config{Producer: prod, Waiter: w, Tokens: tokens, Kind: schedule.Kind, Access: testkit.AccessLogger(t, "127.0.0.1:1", "ingest")})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Routes(mux)
	get := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	for _, path := range []string{"/v1/commands/x", "/v1/commands/x?wait=100ms"} {
		if rec := get(path); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("GET %s while loading: %d %s", path, rec.Code, rec.Body)
		}
	}
	putResults(t, h, time.Now(), topics.Result{CommandID: "y", TenantID: "a", Status: topics.StatusAccepted, Version: 1})
	if rec := get("/v1/commands/y"); rec.Code != http.StatusOK {
		t.Fatalf("GET a loaded outcome while loading: %d %s", rec.Code, rec.Body)
	}
	h.loaded.Store(true)
	if rec := get("/v1/commands/x"); rec.Code != http.StatusNotFound {
		t.Fatalf("GET after loading: %d %s", rec.Code, rec.Body)
	}
}

// TestConfigValidate: every problem is reported at once.
func TestConfigValidate(t *testing.T) {
	c := Config{DefaultWait: time.Minute}
	c.setDefaults()
	err := c.Validate()
	for _, want := range []string{"producer is required", "waiter is required", "tokens is required", "kind is required", "access log is required", "default wait"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to say %q", err, want)
		}
	}
}
