package query_test

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
)

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
		if got, _, _ := s.fetch(tokenA, tt.path, tt.header); got != tt.status {
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

// TestAccessQuery: GET /v1/access lists a tenant's access records, by
// every filter, from the indexes the replica folds from schedule-access;
// a patient's "who looked at my record" is ?visitorId=; another tenant's
// auditor sees none of it.
func TestAccessQuery(t *testing.T) {
	w := newWorld(t)
	w.commit(append(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0),
		w.exec("clinic-a", "visit-2", "Reserve", reserve("v-2", t0, time.Hour), t0)...))
	w.commit(w.exec("clinic-b", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(3)
	for _, read := range []struct{ token, path string }{
		{tokenA, "/v1/schedules/visit-1"}, {tokenA, "/v1/schedules/visit-2/events"},
		{tokenAuditA, "/v1/schedules/visit-1/timeline"}, {tokenAuditA, "/v1/activity?visitorId=v-1"},
		{tokenB, "/v1/schedules/visit-1"},
	} {
		if code, pc := s.get(read.token, read.path, nil); code != 200 {
			t.Fatalf("%s: %d %s", read.path, code, pc)
		}
	}
	// expect checks that the list at path holds clinic-a's records that
	// keep accepts, all written before it was asked, newest first.
	expect := func(path string, keep func(access.Record) bool) {
		t.Helper()
		var got, want []string
		ok := testkit.Eventually(10*time.Second, func() bool {
			want = nil
			for _, r := range testkit.AccessLog(t, w.brokers) {
				if r.Tenant == "clinic-a" && keep(r) {
					want = append(want, r.Writer+"/"+strconv.FormatUint(r.Seq, 10))
				}
			}
			items := pages[access.Record](s, tokenAuditA, path, 0)
			got = nil
			for i, r := range items {
				if i > 0 && r.Time.After(items[i-1].Time) {
					t.Fatalf("%s: not newest first at item %d", path, i)
				}
				got = append(got, r.Writer+"/"+strconv.FormatUint(r.Seq, 10))
			}
			slices.Sort(got)
			slices.Sort(want)
			return slices.Equal(got, want)
		})
		if !ok || len(want) == 0 {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
	expect("/v1/access?limit=2", func(access.Record) bool { return true })
	expect("/v1/access?visitorId=v-1", func(r access.Record) bool { return r.VisitorID == "v-1" })
	expect("/v1/access?subject=desk-1", func(r access.Record) bool { return r.Subject == "desk-1" })
	expect("/v1/access?scheduleId=visit-2", func(r access.Record) bool { return r.ScheduleID == "visit-2" })
	expect("/v1/access?action=view&subject=auditor", func(r access.Record) bool { return r.Action == access.View && r.Subject == "auditor" })
	if got := pages[access.Record](s, tokenAuditB, "/v1/access?visitorId=v-1", 0); len(got) == 0 || slices.ContainsFunc(got, func(r access.Record) bool { return r.Tenant != "clinic-b" }) {
		t.Errorf("clinic-b's auditor: %+v", got)
	}
	if code, pc := s.get(tokenA, "/v1/access", nil); code != 403 || pc != api.CodeInsufficientScope {
		t.Errorf("a token without audit: %d %s", code, pc)
	}
	if code, pc := s.get(tokenAuditA, "/v1/access?action=peek", nil); code != 400 || pc != api.CodeBadParameter {
		t.Errorf("an unknown action: %d %s", code, pc)
	}
}

// TestAccessNotIndexed: a replica started with NoAccessIndex still logs
// every read, but leaves the access log to the replicas that index it.
func TestAccessNotIndexed(t *testing.T) {
	w := newWorld(t)
	w.commit(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, w.brokers, t.TempDir(), func(c *query.Config) { c.NoAccessIndex = true })
	s.waitFolded(1)
	before := len(testkit.AccessLog(t, w.brokers))
	if code, pc := s.get(tokenA, "/v1/schedules/visit-1", nil); code != 200 {
		t.Fatalf("a state read: %d %s", code, pc)
	}
	if log := testkit.AccessLog(t, w.brokers); len(log) != before+1 || log[len(log)-1].ScheduleID != "visit-1" {
		t.Errorf("a state read on a replica that does not index wrote %d access records, want 1 of visit-1", len(log)-before)
	}
	if code, pc := s.get(tokenAuditA, "/v1/access", nil); code != 404 || pc != api.CodeAccessNotIndexed {
		t.Errorf("GET /v1/access on a replica that does not index: %d %s, want 404 %s", code, pc, api.CodeAccessNotIndexed)
	}
}
