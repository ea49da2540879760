package query_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
)

// TestTenantIsolation: a token sees its own tenant's schedules only, and
// another tenant's schedule with the same id is answered as unknown.
func TestTenantIsolation(t *testing.T) {
	w := newWorld(t)
	var recs []*kgo.Record
	recs = append(recs, w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0.Add(2*time.Hour), time.Hour), t0)...)
	recs = append(recs, w.exec("clinic-a", "only-a", "Reserve", reserve("v-1", t0.Add(3*time.Hour), time.Hour), t0)...)
	recs = append(recs, w.exec("clinic-b", "visit-1", "Reserve", reserve("v-9", t0.Add(5*time.Hour), time.Hour), t0)...)
	w.commit(recs)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())

	var a, b query.StateResponse
	s.get(tokenA, "/v1/schedules/visit-1", &a)
	s.get(tokenB, "/v1/schedules/visit-1", &b)
	if a.TenantID != "clinic-a" || b.TenantID != "clinic-b" || string(a.State) == string(b.State) {
		t.Fatalf("same id in two tenants: a=%+v b=%+v", a, b)
	}
	for _, p := range []string{"/v1/schedules/only-a", "/v1/schedules/only-a/events", "/v1/schedules/only-a/timeline",
		"/v1/schedules/only-a?version=1"} {
		if code, pc := s.get(tokenB, p, nil); code != 404 || pc != api.CodeUnknownSchedule {
			t.Errorf("clinic-b GET %s: %d %s, want 404 unknown_schedule", p, code, pc)
		}
	}
	day := "/v1/schedules?from=" + url.QueryEscape(t0.Format(time.RFC3339)) + "&to=" + url.QueryEscape(t0.Add(24*time.Hour).Format(time.RFC3339))
	var pa, pb query.Page[query.Summary]
	s.get(tokenA, day, &pa)
	s.get(tokenB, day, &pb)
	if ids(pa.Items) != "visit-1,only-a" || ids(pb.Items) != "visit-1" {
		t.Fatalf("day lists: clinic-a %q, clinic-b %q", ids(pa.Items), ids(pb.Items))
	}
	var va query.Page[query.Summary]
	s.get(tokenB, "/v1/visitors/v-1/schedules", &va)
	if len(va.Items) != 0 {
		t.Fatalf("clinic-b sees clinic-a's visitor: %+v", va.Items)
	}
	for _, tok := range []string{"", "wrong"} {
		if code, pc := s.get(tok, "/v1/schedules/visit-1", nil); code != 401 || pc != "unauthorized" {
			t.Errorf("token %q: %d %s", tok, code, pc)
		}
	}
}

func reserve(visitor string, start time.Time, d time.Duration) string {
	return fmt.Sprintf(`{"visitorId":%q,"start":%q,"end":%q,"procedures":["botox"]}`, visitor,
		start.Format(time.RFC3339), start.Add(d).Format(time.RFC3339))
}

func ids(xs []query.Summary) string {
	var out []string
	for _, x := range xs {
		out = append(out, x.ScheduleID)
	}
	return strings.Join(out, ",")
}

// fetchCounter counts the records a client fetches, transaction markers
// aside (the hook sees them too).
type fetchCounter struct{ n atomic.Int64 }

func (c *fetchCounter) OnFetchRecordBuffered(r *kgo.Record) {
	if !r.Attrs.IsControl() {
		c.n.Add(1)
	}
}

// TestRestartResumes: a restarted view folds only what is new, and its
// answers are those of before.
func TestRestartResumes(t *testing.T) {
	w := newWorld(t)
	r := rand.New(rand.NewPCG(1, 2))
	streams := []string{"a", "b", "c", "d", "e", "f"}
	w.fill(r, []string{"clinic-a"}, streams, 600, 25)
	dir := t.TempDir()
	s := startView(t, w.brokers, dir)
	s.waitFolded(w.total())
	before := w.total()
	var cur query.StateResponse
	s.get(tokenA, "/v1/schedules/a", &cur)
	s.stop()

	w.fill(r, []string{"clinic-a"}, streams, 300, 25)
	// The model skips an event it has, so the events applied cannot tell
	// a resume from a read from the start: count what the client fetches.
	var fetched fetchCounter
	s = startView(t, w.brokers, dir, func(c *query.Config) { c.Hooks = append(c.Hooks, &fetched) })
	s.waitFolded(w.total() - before)
	// Ready once caught up to the ends it saw at start: whatever it read
	// again from the beginning came before.
	s.waitReady()
	if got := s.applied(); got != float64(w.total()-before) {
		t.Fatalf("restart folded %v events, want only the %d new ones", got, w.total()-before)
	}
	if got := fetched.n.Load(); got != int64(w.total()-before) {
		t.Fatalf("restart read %d events, want only the %d new ones", got, w.total()-before)
	}
	for key, evs := range w.streams {
		_, stream, _ := strings.Cut(key, "/")
		var got query.StateResponse
		s.get(tokenA, "/v1/schedules/"+stream, &got)
		want, _ := schedule.Definition.Rehydrate(evs)
		if got.Version != uint64(len(evs)) || !sameJSON(t, got.State, want) {
			t.Fatalf("%s after restart: version %d state %s, want %d %s", key, got.Version, got.State, len(evs), jsonOf(t, want))
		}
	}
}

// TestLogicVersionRebuild: a view opened by other fold logic wipes the
// model, folds the whole topic again and answers as before.
func TestLogicVersionRebuild(t *testing.T) {
	w := newWorld(t)
	r := rand.New(rand.NewPCG(3, 4))
	streams := []string{"a", "b", "c", "d"}
	w.fill(r, []string{"clinic-a"}, streams, 500, 20)
	dir := t.TempDir()
	s := startView(t, w.brokers, dir)
	s.waitFolded(w.total())
	answers := map[string]string{}
	for _, st := range streams {
		for v := 1; v <= len(w.streams["clinic-a/"+st]); v++ {
			var got query.StateResponse
			s.get(tokenA, fmt.Sprintf("/v1/schedules/%s?version=%d", st, v), &got)
			answers[fmt.Sprint(st, v)] = string(got.State)
		}
	}
	s.stop()

	s = startView(t, w.brokers, dir, func(c *query.Config) { c.LogicVersion = schedule.LogicVersion + 1 })
	if !s.view.Rebuilt {
		t.Fatal("a new logic version did not rebuild the model")
	}
	s.waitReady()
	if s.view.Rebuilding() {
		t.Fatal("ready, and still rebuilding")
	}
	for _, st := range streams {
		for v := 1; v <= len(w.streams["clinic-a/"+st]); v++ {
			var got query.StateResponse
			s.get(tokenA, fmt.Sprintf("/v1/schedules/%s?version=%d", st, v), &got)
			if string(got.State) != answers[fmt.Sprint(st, v)] {
				t.Fatalf("%s v%d after rebuild: %s, before: %s", st, v, got.State, answers[fmt.Sprint(st, v)])
			}
		}
	}
	s.stop()
	// The same logic version again: no rebuild.
	s = startView(t, w.brokers, dir, func(c *query.Config) { c.LogicVersion = schedule.LogicVersion + 1 })
	if s.view.Rebuilt {
		t.Fatal("reopening with the same logic version rebuilt the model")
	}
}

// TestRangeQuery: day lists stay right while schedules are reserved,
// rescheduled (also across days), canceled and checked in, and pages
// follow each other in start order.
func TestRangeQuery(t *testing.T) {
	w := newWorld(t)
	r := rand.New(rand.NewPCG(5, 6))
	const n = 120
	for round := range 4 {
		var recs []*kgo.Record
		for i := range n {
			stream := fmt.Sprintf("visit-%03d", i)
			at := t0.Add(time.Duration(round) * time.Minute)
			start := t0.Add(time.Duration(r.IntN(72*4)) * 15 * time.Minute)
			span := time.Duration(r.IntN(16)+1) * 15 * time.Minute
			var typ, data string
			switch {
			case round == 0 || r.IntN(4) == 0:
				typ, data = "Reserve", reserve(fmt.Sprintf("v-%d", i%7), start, span)
			case r.IntN(3) == 0:
				typ, data = "CancelReservation", `{"reason":"ill"}`
			case r.IntN(3) == 0:
				typ, data = "CheckIn", `{"channel":"desk"}`
			default:
				typ, data = "Reschedule", fmt.Sprintf(`{"start":%q,"end":%q}`, start.Format(time.RFC3339), start.Add(span).Format(time.RFC3339))
			}
			recs = append(recs, w.exec("clinic-a", stream, typ, data, at)...)
		}
		// Walk-ins: no reservation, found by their check-in.
		recs = append(recs, w.exec("clinic-a", fmt.Sprintf("walk-in-%d", round), "CheckIn",
			`{"channel":"desk","visitorId":"v-walk"}`, t0.Add(time.Duration(round)*30*time.Hour))...)
		w.commit(recs)
	}
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())

	windows := [][2]time.Time{{t0, t0.Add(24 * time.Hour)}, {t0.Add(24 * time.Hour), t0.Add(48 * time.Hour)},
		{t0.Add(10 * time.Hour), t0.Add(10*time.Hour + time.Minute)}, {t0.Add(-time.Hour), t0.Add(100 * time.Hour)}}
	for _, win := range windows {
		for _, status := range []schedule.Status{"", schedule.StatusReserved, schedule.StatusCanceled, schedule.StatusCheckedIn} {
			want := expectedRange(w, win[0], win[1], status)
			for _, limit := range []int{1000, 7} {
				q := url.Values{"from": {win[0].Format(time.RFC3339)}, "to": {win[1].Format(time.RFC3339)}, "limit": {fmt.Sprint(limit)}}
				if status != "" {
					q.Set("status", string(status))
				}
				got := pages[query.Summary](s, tokenA, "/v1/schedules?"+q.Encode(), limit)
				if ids(got) != ids(want) {
					t.Fatalf("window %v status %q limit %d:\n got %s\nwant %s", win, status, limit, ids(got), ids(want))
				}
			}
		}
	}
	var visits query.Page[query.Summary]
	s.get(tokenA, "/v1/visitors/v-walk/schedules", &visits)
	if len(visits.Items) != 4 || !visits.Items[0].WalkIn {
		t.Fatalf("walk-in visitor's schedules: %+v", visits.Items)
	}
}

// expectedRange computes, from the final states, the schedules a window
// lists, in the order the API promises: by start, then id.
func expectedRange(w *world, from, to time.Time, status schedule.Status) []query.Summary {
	var out []query.Summary
	for key, st := range w.states {
		_, stream, _ := strings.Cut(key, "/")
		start, end := st.Reservation.Start, st.Reservation.End
		if start.IsZero() {
			start, end = st.CheckIn.At, st.CheckedOutAt
		}
		if start.IsZero() || (status != "" && st.Status != status) || !start.Before(to) {
			continue
		}
		if end.After(start) && !end.After(from) || !end.After(start) && start.Before(from) {
			continue
		}
		out = append(out, query.Summary{ScheduleID: stream, Start: start})
	}
	slices.SortFunc(out, func(a, b query.Summary) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ScheduleID, b.ScheduleID)
	})
	return out
}

// TestBadParameters: every endpoint answers a bad parameter with 400 and
// a stable code.
func TestBadParameters(t *testing.T) {
	w := newWorld(t)
	w.commit(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(1)
	day := "from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z"
	cases := map[string]string{
		"/v1/schedules/bad$id":                                            "invalid_id",
		"/v1/schedules/visit-1?version=0":                                 "bad_parameter",
		"/v1/schedules/visit-1?version=-1":                                "bad_parameter",
		"/v1/schedules/visit-1?version=x":                                 "bad_parameter",
		"/v1/schedules/visit-1?at=yesterday":                              "bad_parameter",
		"/v1/schedules/visit-1?version=1&at=2026-03-02T00:00:00Z":         "bad_parameter",
		"/v1/schedules/visit-1?minVersion=x":                              "bad_parameter",
		"/v1/schedules/visit-1?minVersion=2&wait=forever":                 "bad_parameter",
		"/v1/schedules/visit-1?wait=1h":                                   "bad_parameter",
		"/v1/schedules/visit-1?verison=1":                                 "bad_parameter",
		"/v1/schedules/visit-1?version=1&version=2":                       "bad_parameter",
		"/v1/schedules/visit-1/events?after=x":                            "bad_parameter",
		"/v1/schedules/visit-1/events?limit=0":                            "bad_parameter",
		"/v1/schedules/visit-1/events?limit=100000":                       "bad_parameter",
		"/v1/schedules/bad$id/events":                                     "invalid_id",
		"/v1/schedules/visit-1/timeline?after=-3":                         "bad_parameter",
		"/v1/schedules/visit-1/timeline?limit=abc":                        "bad_parameter",
		"/v1/schedules/bad$id/timeline":                                   "invalid_id",
		"/v1/schedules?to=2026-03-03T00:00:00Z":                           "bad_parameter",
		"/v1/schedules?from=2026-03-02T00:00:00Z":                         "bad_parameter",
		"/v1/schedules?from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z": "bad_parameter",
		"/v1/schedules?" + day + "&status=sleeping":                       "bad_parameter",
		"/v1/schedules?" + day + "&cursor=%%%":                            "bad_parameter",
		"/v1/schedules?" + day + "&cursor=AAAA":                           "bad_parameter",
		"/v1/schedules?" + day + "&limit=-1":                              "bad_parameter",
		"/v1/visitors/bad$id/schedules":                                   "invalid_id",
		"/v1/visitors/v-1/schedules?status=x":                             "bad_parameter",
		"/v1/visitors/v-1/schedules?cursor=!":                             "bad_parameter",
	}
	for p, code := range cases {
		if got, pc := s.get(tokenA, p, nil); got != 400 || pc != code {
			t.Errorf("GET %s: %d %q, want 400 %q", p, got, pc, code)
		}
	}
	for p, want := range map[string]string{
		"/v1/schedules/visit-1?version=2":               api.CodeUnknownVersion,
		"/v1/schedules/nobody":                          api.CodeUnknownSchedule,
		"/v1/schedules/visit-1?at=2020-01-01T00:00:00Z": api.CodeBeforeFirstEvent,
	} {
		if got, pc := s.get(tokenA, p, nil); got != 404 || pc != want {
			t.Errorf("GET %s: %d %q, want 404 %q", p, got, pc, want)
		}
	}
}

// TestMinVersionWaits: a read of one's own write waits for the view, and
// answers view_behind when the wait ends first.
func TestMinVersionWaits(t *testing.T) {
	w := newWorld(t)
	w.commit(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(1)
	if code, pc := s.get(tokenA, "/v1/schedules/visit-1?minVersion=2&wait=200ms", nil); code != 503 || pc != api.CodeViewBehind {
		t.Fatalf("minVersion past the view: %d %s, want 503 view_behind", code, pc)
	}
	var wg sync.WaitGroup
	var got query.StateResponse
	var code int
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, _ = s.get(tokenA, "/v1/schedules/visit-2?minVersion=1&wait=10s", &got)
	}()
	// Commit only once the read is waiting, or it would not test a wait.
	if !testkit.Eventually(10*time.Second, func() bool { return testkit.Metric(t, s.reg, "rewind_query_waiting_requests") >= 1 }) {
		t.Fatal("the read did not start waiting")
	}
	w.commit(w.exec("clinic-a", "visit-2", "CheckIn", `{"channel":"kiosk","visitorId":"v-2"}`, t0))
	wg.Wait()
	if code != 200 || got.Version != 1 {
		t.Fatalf("waiting read of a new schedule: %d version %d", code, got.Version)
	}
}

// TestRebuildingAnswers503: a replica restarted in place on a model of
// another logic version answers 503 rebuilding with Retry-After, also
// after a restart in the middle of the rebuild, until it has caught up;
// never a partial model.
func TestRebuildingAnswers503(t *testing.T) {
	w := newWorld(t)
	w.fill(rand.New(rand.NewPCG(7, 8)), []string{"clinic-a"}, []string{"a", "b"}, 100, 20)
	dir := t.TempDir()
	s := startView(t, w.brokers, dir)
	s.waitReady()
	s.stop()

	next := func(c *query.Config) { c.LogicVersion = schedule.LogicVersion + 1 }
	// Opened, wiped and marked, but stopped before folding anything.
	cfg := query.Config{DataDir: dir, ClientOpts: []kgo.Opt{kgo.SeedBrokers(w.brokers)}, Registerer: prometheus.NewRegistry(), Keyring: testkit.Keyring(t)}
	next(&cfg)
	v, err := query.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Rebuilt || !v.Rebuilding() {
		t.Fatal("a new logic version is not rebuilding")
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted in the middle of the rebuild: still rebuilding.
	s = startView(t, w.brokers, dir, next, func(c *query.Config) { c.MaxPoll = 1 })
	if !s.view.Rebuilt {
		t.Fatal("a restart in the middle of a rebuild forgot it")
	}
	// Ready needs a caught-up check, the first of which runs before any
	// fold: the mark is certainly still up here.
	if testkit.Metric(t, s.reg, "rewind_query_rebuilding") != 1 {
		t.Fatal("rewind_query_rebuilding is not 1 while rebuilding")
	}
	sawRebuilding := false
	for !s.view.Ready() {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/schedules/a", nil)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p api.Problem
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable && p.Code == api.CodeRebuilding && resp.Header.Get("Retry-After") != "":
			sawRebuilding = true
		case resp.StatusCode == http.StatusOK && s.view.Ready():
		default:
			t.Fatalf("while rebuilding: %d %q (ready %v)", resp.StatusCode, p.Code, s.view.Ready())
		}
	}
	if !sawRebuilding {
		t.Fatal("never answered 503 rebuilding")
	}
	var got query.StateResponse
	if code, _ := s.get(tokenA, "/v1/schedules/a", &got); code != http.StatusOK || got.Version != uint64(len(w.streams["clinic-a/a"])) {
		t.Fatalf("after the rebuild: %d v%d", code, got.Version)
	}
	if testkit.Metric(t, s.reg, "rewind_query_rebuilding") != 0 || testkit.Metric(t, s.reg, "rewind_query_logic_version") != schedule.LogicVersion+1 {
		t.Fatal("metrics after the rebuild")
	}
	s.stop()
	s = startView(t, w.brokers, dir, next)
	if s.view.Rebuilt {
		t.Fatal("a finished rebuild is still marked")
	}
}
