package query_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/query"
)

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, got json.RawMessage, want any) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(jsonOf(t, want)), &b); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(a, b)
}

func path(tenant, stream string) string {
	_ = tenant
	return "/v1/schedules/" + stream
}

func tokenOf(tenant string) string {
	if tenant == "clinic-a" {
		return tokenA
	}
	return tokenB
}

// TestTimeTravelMatchesFold checks every version and instants on and
// between events of random streams against the kernel's own fold.
func TestTimeTravelMatchesFold(t *testing.T) {
	w := newWorld(t)
	r := rand.New(rand.NewPCG(7, 11))
	var streams []string
	for i := range 25 {
		streams = append(streams, fmt.Sprintf("visit-%02d", i))
	}
	w.fill(r, []string{"clinic-a", "clinic-b"}, streams, 8000, 40)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())
	d := schedule.Definition
	long := 0
	for key, evs := range w.streams {
		tenant, stream, _ := strings.Cut(key, "/")
		tok := tokenOf(tenant)
		long = max(long, len(evs))
		for v := uint64(1); v <= uint64(len(evs)); v++ {
			var got query.StateResponse
			if code, pc := s.get(tok, fmt.Sprintf("%s?version=%d", path(tenant, stream), v), &got); code != 200 {
				t.Fatalf("%s v%d: %d %s", key, v, code, pc)
			}
			want, _ := d.RehydrateVersion(evs, v)
			if got.Version != v || got.LatestVersion != uint64(len(evs)) || !sameJSON(t, got.State, want) {
				t.Fatalf("%s v%d: got version %d latest %d state %s, want %s", key, v, got.Version, got.LatestVersion, got.State, jsonOf(t, want))
			}
		}
		var instants []time.Time
		for _, e := range evs {
			instants = append(instants, e.Time, e.Time.Add(-time.Nanosecond), e.Time.Add(17*time.Second))
		}
		instants = append(instants, evs[0].Time.Add(-time.Hour), evs[len(evs)-1].Time.Add(time.Hour))
		for _, at := range instants {
			want, wantV := d.RehydrateAt(evs, at)
			var got query.StateResponse
			code, pc := s.get(tok, path(tenant, stream)+"?at="+url.QueryEscape(at.Format(time.RFC3339Nano)), &got)
			if wantV == 0 {
				if code != 404 || pc != api.CodeBeforeFirstEvent {
					t.Fatalf("%s at %s (before the first event): %d %s", key, at, code, pc)
				}
				continue
			}
			if code != 200 || got.Version != wantV || !sameJSON(t, got.State, want) {
				t.Fatalf("%s at %s: %d version %d (want %d) state %s want %s", key, at, code, got.Version, wantV, got.State, jsonOf(t, want))
			}
		}
		// The current state and its ETag.
		var cur query.StateResponse
		if code, _ := s.get(tok, path(tenant, stream), &cur); code != 200 || cur.Version != uint64(len(evs)) {
			t.Fatalf("%s current: %d version %d", key, code, cur.Version)
		}
		checkAudit(t, s, tok, tenant, stream, evs)
	}
	t.Logf("%d streams, %d events, the longest %d", len(w.streams), w.total(), long)
	if long <= 3*8 {
		t.Fatalf("the longest stream has %d events: too short to cross several snapshots", long)
	}
}

// checkAudit reads the audit log and the timeline page by page and checks
// them against the events written.
func checkAudit(t *testing.T, s *service, tok, tenant, stream string, evs []aggregate.Envelope) {
	t.Helper()
	audit := pages[query.AuditEvent](s, tok, path(tenant, stream)+"/events?limit=7", 7)
	if len(audit) != len(evs) {
		t.Fatalf("%s/%s audit log has %d events, want %d", tenant, stream, len(audit), len(evs))
	}
	for i, a := range audit {
		e := evs[i]
		if a.Version != e.Version || a.Type != e.Type || !a.Time.Equal(e.Time) || a.TenantID != tenant ||
			a.Initiator != e.Initiator || a.ProcessID != e.ProcessID || a.PredecessorID != e.PredecessorID ||
			!sameJSON(t, a.Data, e.Data) {
			t.Fatalf("audit event %d = %+v, want %+v", i, a, e)
		}
	}
	timeline := pages[query.TimelineEntry](s, tok, path(tenant, stream)+"/timeline?limit=9", 9)
	if len(timeline) != len(evs) {
		t.Fatalf("timeline has %d entries, want %d", len(timeline), len(evs))
	}
	for i, te := range timeline {
		want, _ := schedule.Definition.RehydrateVersion(evs, te.Version)
		if !sameJSON(t, te.State, want) {
			t.Fatalf("timeline v%d state %s, want %s", te.Version, te.State, jsonOf(t, want))
		}
		if len(te.Changes) == 0 {
			t.Fatalf("timeline v%d (%s) lists no changes", te.Version, te.Type)
		}
		if i == 0 && !slices.ContainsFunc(te.Changes, func(c query.Change) bool { return c.Path == "/status" }) {
			t.Fatalf("first event's changes %+v do not include /status", te.Changes)
		}
	}
}
