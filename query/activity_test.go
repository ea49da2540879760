package query_test

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
	"github.com/rewind/rewind/topics"
)

// TestActivity: the activity trail lists a tenant's events across
// schedules, by every filter alone and together, in both orders, and its
// pages follow each other; an erased event leaves it; another tenant's
// auditor sees none of it, and a token without the audit scope nothing.
func TestActivity(t *testing.T) {
	w := newWorld(t)
	var recs []*kgo.Record
	visitor := map[string]string{}
	for i, stream := range []string{"visit-1", "visit-2", "visit-3"} {
		at := t0.Add(time.Duration(i) * 10 * time.Minute)
		visitor[stream] = fmt.Sprintf("v-%d", i%2+1)
		w.as = "desk-1"
		recs = append(recs, w.exec("clinic-a", stream, "Reserve", reserve(visitor[stream], at.Add(time.Hour), time.Hour), at)...)
		w.as = "dr-kim"
		recs = append(recs, w.exec("clinic-a", stream, "CheckIn", `{"channel":"desk"}`, at.Add(time.Minute))...)
		recs = append(recs, w.exec("clinic-a", stream, "StartConsultation", `{"counselorId":"c1"}`, at.Add(2*time.Minute))...)
		for k := range 3 {
			recs = append(recs, w.exec("clinic-a", stream, "TakePhotos", fmt.Sprintf(`{"kind":"before","count":%d}`, k+1), at.Add(time.Duration(3+k)*time.Minute))...)
		}
	}
	w.as = "desk-9"
	recs = append(recs, w.exec("clinic-b", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0)...)
	w.commit(recs)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())

	want := func(tenant string, keep func(query.Activity) bool, newest bool) []query.Activity {
		return expectedActivity(w, visitor, tenant, keep, newest)
	}
	window := [2]time.Time{t0.Add(5 * time.Minute), t0.Add(22 * time.Minute)}
	for name, tt := range map[string]struct {
		query string
		keep  func(query.Activity) bool
	}{
		"all":       {"", func(query.Activity) bool { return true }},
		"initiator": {"initiator=dr-kim", func(a query.Activity) bool { return a.Initiator == "dr-kim" }},
		"type":      {"type=PhotosTaken", func(a query.Activity) bool { return a.Type == "PhotosTaken" }},
		"visitor":   {"visitorId=v-1", func(a query.Activity) bool { return a.VisitorID == "v-1" }},
		"schedule":  {"scheduleId=visit-2", func(a query.Activity) bool { return a.ScheduleID == "visit-2" }},
		"window":    {"from=" + window[0].Format(time.RFC3339) + "&to=" + window[1].Format(time.RFC3339), func(a query.Activity) bool { return !a.Time.Before(window[0]) && a.Time.Before(window[1]) }},
		"together": {"initiator=dr-kim&visitorId=v-1&type=PhotosTaken", func(a query.Activity) bool {
			return a.Initiator == "dr-kim" && a.VisitorID == "v-1" && a.Type == "PhotosTaken"
		}},
		"none match": {"initiator=nobody", func(query.Activity) bool { return false }},
	} {
		for _, newest := range []bool{true, false} {
			order := map[bool]string{true: "newest", false: "oldest"}[newest]
			path := "/v1/activity?limit=2&order=" + order
			if tt.query != "" {
				path += "&" + tt.query
			}
			got := pages[query.Activity](s, tokenAuditA, path, 2)
			exp := want("clinic-a", tt.keep, newest)
			if name != "none match" && len(exp) == 0 {
				t.Fatalf("%s: the test expects nothing", name)
			}
			if jsonOf(t, got) != jsonOf(t, exp) {
				t.Errorf("%s, %s first: got %d items\n%s\nwant %d\n%s", name, order, len(got), jsonOf(t, got), len(exp), jsonOf(t, exp))
			}
		}
	}

	// Another tenant's auditor sees its own and nothing of clinic-a's.
	if got := pages[query.Activity](s, tokenAuditB, "/v1/activity", 0); len(got) != 1 || got[0].ScheduleID != "visit-1" || got[0].Initiator != "desk-9" {
		t.Errorf("clinic-b's auditor: %s", jsonOf(t, got))
	}
	if got := pages[query.Activity](s, tokenAuditB, "/v1/activity?scheduleId=visit-2", 0); len(got) != 0 {
		t.Errorf("clinic-b's auditor sees clinic-a's visit-2: %s", jsonOf(t, got))
	}
	if code, pc := s.get(tokenA, "/v1/activity", nil); code != 403 || pc != "insufficient_scope" {
		t.Errorf("a token without audit: %d %s", code, pc)
	}
	for _, bad := range []string{"order=up", "initiator=a/b", "cursor=!!", "from=2026-03-02T10:00:00Z&to=2026-03-02T09:00:00Z"} {
		if code, pc := s.get(tokenAuditA, "/v1/activity?"+bad, nil); code != 400 || pc != "bad_parameter" {
			t.Errorf("?%s: %d %s, want 400 bad_parameter", bad, code, pc)
		}
	}

	// An erased event leaves the trail.
	p := topics.PartitionFor(topics.StreamKey("clinic-a", "visit-2"), partitions)
	w.commit([]*kgo.Record{{Topic: topics.Events, Partition: p, Key: []byte(topics.EventKey("clinic-a", "visit-2", 4))}})
	evs := w.streams["clinic-a/visit-2"]
	w.streams["clinic-a/visit-2"] = slices.DeleteFunc(evs, func(e aggregate.Envelope) bool { return e.Version == 4 })
	exp := want("clinic-a", func(query.Activity) bool { return true }, true)
	var got []query.Activity
	if !testkit.Eventually(10*time.Second, func() bool {
		got = pages[query.Activity](s, tokenAuditA, "/v1/activity?"+url.Values{"limit": {"1000"}}.Encode(), 0)
		return jsonOf(t, got) == jsonOf(t, exp)
	}) {
		t.Errorf("after erasing visit-2 v4: got %d items, want %d", len(got), len(exp))
	}
}

// expectedActivity is the trail of tenant that keep lets through, from
// what w executed, oldest or newest first.
func expectedActivity(w *world, visitor map[string]string, tenant string, keep func(query.Activity) bool, newest bool) []query.Activity {
	var out []query.Activity
	for key, evs := range w.streams {
		for _, e := range evs {
			a := query.Activity{Time: e.Time, Initiator: e.Initiator, Type: e.Type, ScheduleID: e.Stream,
				VisitorID: visitor[e.Stream], Version: e.Version, ProcessID: e.ProcessID}
			if key == tenant+"/"+e.Stream && keep(a) {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b query.Activity) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Version, b.Version), cmp.Compare(a.ScheduleID, b.ScheduleID))
	})
	if newest {
		slices.Reverse(out)
	}
	return out
}
