package query_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
)

// TestVersion1EventsServed: events in schema version 1, written by the
// code of logic version 1, fold, time-travel and show in the timeline
// under this code, beside events of version 2.
func TestVersion1EventsServed(t *testing.T) {
	w := newWorld(t)
	fixture := testkit.Version1Events(t, "clinic-a", partitions)
	w.commit(fixture)
	n := len(fixture)
	// A cancellation written today, in version 2, on another stream.
	recs := w.exec("clinic-a", "visit-new", "Reserve", `{"visitorId":"p-9","start":"2026-06-03T10:00:00Z","end":"2026-06-03T11:00:00Z"}`, t0)
	recs = append(recs, w.exec("clinic-a", "visit-new", "CancelReservation", `{"by":"clinic","reason":"doctor ill"}`, t0.Add(time.Minute))...)
	if len(recs) != 2 || string(recs[1].Headers[len(recs[1].Headers)-1].Value) != "urn:rewind:schedule:ReservationCanceled:v2" {
		t.Fatalf("a new cancellation's records: %+v", recs)
	}
	w.commit(recs)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(n + len(recs))

	var cur query.StateResponse
	if code, _ := s.get(tokenA, "/v1/schedules/visit-canceled", &cur); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	var st schedule.State
	if err := json.Unmarshal(cur.State, &st); err != nil {
		t.Fatal(err)
	}
	if cur.Version != 3 || st.Reservation.CanceledBy != schedule.CanceledByUnrecorded || st.Reservation.CancelReason != "patient has a cold" {
		t.Fatalf("current state of a version-1 cancellation: v%d %s", cur.Version, cur.State)
	}
	// Time travel to before the cancellation, and to its instant.
	var past query.StateResponse
	s.get(tokenA, "/v1/schedules/visit-canceled?version=2", &past)
	if err := json.Unmarshal(past.State, &st); err != nil || st.Status != schedule.StatusReserved || st.Reservation.Reschedules != 1 {
		t.Fatalf("version 2: %s", past.State)
	}
	s.get(tokenA, "/v1/schedules/visit-canceled?at=2026-06-01T09:20:00Z", &past)
	if err := json.Unmarshal(past.State, &st); err != nil || past.Version != 3 || st.Reservation.CanceledBy != schedule.CanceledByUnrecorded {
		t.Fatalf("at the cancellation: v%d %s", past.Version, past.State)
	}

	var tl query.Page[query.TimelineEntry]
	if code, _ := s.get(tokenA, "/v1/schedules/visit-canceled/timeline", &tl); code != 200 || len(tl.Items) != 3 {
		t.Fatalf("timeline: %d, %d entries", code, len(tl.Items))
	}
	last := tl.Items[2]
	if last.Type != "ReservationCanceled" || last.DataSchema != 1 || string(last.Data) != `{"reason":"patient has a cold"}` {
		t.Fatalf("the version-1 cancellation in the timeline: %+v", last.AuditEvent)
	}
	changed := map[string]any{}
	for _, c := range last.Changes {
		changed[c.Path] = c.After
	}
	if changed["/reservation/canceledBy"] != schedule.CanceledByUnrecorded || changed["/status"] != "canceled" {
		t.Fatalf("its changes: %+v", last.Changes)
	}

	if code, _ := s.get(tokenA, "/v1/schedules/visit-new/timeline", &tl); code != 200 || tl.Items[1].DataSchema != 2 {
		t.Fatalf("a version-2 cancellation in the timeline: %d %+v", code, tl.Items)
	}
}
