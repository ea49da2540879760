package query_test

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testkit"
	"github.com/rewind/rewind/query"
)

// do sends GET path with token and headers, and returns the status.
func (s *service) do(token, path string, header map[string]string) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAccessRecords: a 304 is recorded as what it is, a purpose is kept,
// and answers that give out nothing (404, 400) are not recorded.
func TestAccessRecords(t *testing.T) {
	w := newWorld(t)
	w.commit(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(1)
	for _, tt := range []struct {
		path   string
		header map[string]string
		status int
		logged bool
	}{
		{"/v1/schedules/visit-1", map[string]string{"X-Purpose": "follow-up call"}, 200, true},
		{"/v1/schedules/visit-1", map[string]string{"If-None-Match": `"1"`}, 304, true},
		{"/v1/schedules/nope", nil, 404, false},
		{"/v1/schedules/visit-1", map[string]string{"X-Purpose": strings.Repeat("x", 201)}, 400, false},
		{"/v1/schedules/visit-1?version=x", nil, 400, false},
	} {
		before := len(testkit.AccessLog(t, w.brokers))
		if got := s.do(tokenA, tt.path, tt.header); got != tt.status {
			t.Fatalf("GET %s %v: %d, want %d", tt.path, tt.header, got, tt.status)
		}
		log := testkit.AccessLog(t, w.brokers)
		if got := len(log) - before; got != map[bool]int{true: 1}[tt.logged] {
			t.Fatalf("GET %s %v: %d access records", tt.path, tt.header, got)
		}
		if !tt.logged {
			continue
		}
		r := log[len(log)-1]
		if r.Status != tt.status || r.Purpose != tt.header["X-Purpose"] || r.ScheduleID != "visit-1" {
			t.Errorf("GET %s %v: record %+v", tt.path, tt.header, r)
		}
	}
}

// TestAccessFailsClosed: with the broker gone, a read the model could
// answer is refused 503 audit_unavailable with Retry-After, within the
// access timeout and then at once; with the broker back, it is answered
// and recorded again.
func TestAccessFailsClosed(t *testing.T) {
	_, p, _ := net.SplitHostPort(testkit.FreeAddr(t))
	port, _ := strconv.Atoi(p)
	cluster, brokers := testkit.Cluster(t, kfake.Ports(port))
	testkit.Topics(t, brokers, partitions)
	w := newWorldOn(t, brokers)
	w.commit(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, brokers, t.TempDir(), func(c *query.Config) { c.AccessTimeout = time.Second })
	s.waitFolded(1)
	s.waitReady() // started: its key tail has checked the keyring, which fails a start without a broker
	if code, _ := s.get(tokenA, "/v1/schedules/visit-1", nil); code != 200 {
		t.Fatalf("with the broker up: %d", code)
	}
	cluster.Close()
	for range 3 {
		began := time.Now()
		code, pc := s.get(tokenA, "/v1/schedules/visit-1", nil)
		if code != 503 || pc != api.CodeAuditUnavailable || time.Since(began) > 5*time.Second {
			t.Fatalf("with the broker gone: %d %s after %v, want 503 audit_unavailable within the access timeout", code, pc, time.Since(began))
		}
	}
	if m := testkit.Metric(t, s.reg, "rewind_access_log_unavailable"); m != 1 {
		t.Errorf("rewind_access_log_unavailable %v while the broker is gone", m)
	}

	testkit.Cluster(t, kfake.Ports(port))
	testkit.Topics(t, brokers, partitions)
	if !testkit.Eventually(30*time.Second, func() bool {
		code, _ := s.get(tokenA, "/v1/schedules/visit-1", nil)
		return code == 200
	}) {
		t.Fatal("reads did not come back with the broker")
	}
	if log := testkit.AccessLog(t, brokers); len(log) == 0 || log[len(log)-1].Action != access.View {
		t.Fatalf("no record of the read after the outage: %v", log)
	}
}
