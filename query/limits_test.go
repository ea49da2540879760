package query_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
)

// TestScopes: a write-only token reads nothing (403 insufficient_scope on
// every /v1 route), while the UI page itself needs no token.
func TestScopes(t *testing.T) {
	w := newWorld(t)
	w.commit(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(1)
	for _, p := range []string{"/v1/schedules/visit-1", "/v1/schedules/visit-1/events", "/v1/schedules/visit-1/timeline",
		"/v1/schedules?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z", "/v1/visitors/v-1/schedules"} {
		if code, pc := s.get(tokenKiosk, p, nil); code != http.StatusForbidden || pc != api.CodeInsufficientScope {
			t.Errorf("GET %s with a write-only token: %d %s", p, code, pc)
		}
		if code, _ := s.get(tokenA, p, nil); code != 200 {
			t.Errorf("GET %s with a read token: %d", p, code)
		}
	}
	resp, err := http.Get(s.url + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("UI: %d %v", resp.StatusCode, resp.Header)
	}
	// The page names its icon, served from the binary under the page's
	// own policy: browsers do not ask for a /favicon.ico that is not there.
	resp, err = http.Get(s.url + "/ui/icon.svg")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("the UI's icon: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestWaitingBound: past MaxWaiting requests waiting for ?minVersion= at
// once, another one is answered 503 too_many_waiting with Retry-After; a
// read that needs no wait is not bounded; a slot is free again once its
// request ends.
func TestWaitingBound(t *testing.T) {
	w := newWorld(t)
	w.commit(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, w.brokers, t.TempDir(), func(c *query.Config) { c.MaxWaiting = 1 })
	s.waitFolded(1)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/v1/schedules/visit-1?minVersion=99&wait=30s", nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	held := make(chan struct{})
	go func() {
		defer close(held)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if !testkit.Eventually(10*time.Second, func() bool { return testkit.Metric(t, s.reg, "rewind_query_waiting_requests") == 1 }) {
		t.Fatal("the first request is not waiting")
	}
	code, pc := s.get(tokenA, "/v1/schedules/visit-1?minVersion=99&wait=1s", nil)
	if code != http.StatusServiceUnavailable || pc != api.CodeTooManyWaiting {
		t.Fatalf("over the bound: %d %s", code, pc)
	}
	if code, _ := s.get(tokenA, "/v1/schedules/visit-1?minVersion=1", nil); code != 200 {
		t.Fatalf("a read already satisfied waits for nothing and is not bounded: %d", code)
	}
	cancel()
	<-held
	freed := testkit.Eventually(10*time.Second, func() bool {
		code, pc = s.get(tokenA, "/v1/schedules/visit-1?minVersion=99&wait=0s", nil)
		return pc == api.CodeViewBehind
	})
	if !freed {
		t.Fatalf("after the held request ended, the slot is not free: %d %s", code, pc)
	}
}

// TestConfigValidate: a config without a data dir, or with a negative
// size, is refused with every problem named.
func TestConfigValidate(t *testing.T) {
	_, err := query.Open(query.Config{SnapshotEvery: -1})
	if err == nil || !strings.Contains(err.Error(), "data dir is required") || !strings.Contains(err.Error(), "snapshot interval (-1)") {
		t.Fatalf("Open: %v", err)
	}
}
