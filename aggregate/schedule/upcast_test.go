package schedule_test

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
)

// fixtureEvent is one line of testdata/events-v1.jsonl: an event record
// as the code of logic version 1 wrote it to schedule-events.
type fixtureEvent struct {
	Key       string          `json:"key"`
	Timestamp time.Time       `json:"timestamp"`
	Headers   [][2]string     `json:"headers"`
	Value     json.RawMessage `json:"value"`
}

func readFixture(t *testing.T) map[string][]aggregate.Envelope {
	t.Helper()
	f, err := os.Open("testdata/events-v1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	streams := map[string][]aggregate.Envelope{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var fe fixtureEvent
		if err := json.Unmarshal(sc.Bytes(), &fe); err != nil {
			t.Fatal(err)
		}
		h := map[string]string{}
		for _, kv := range fe.Headers {
			h[kv[0]] = kv[1]
		}
		if _, ok := h["ce_dataschema"]; ok {
			t.Fatalf("%s: version-1 records carry no ce_dataschema", fe.Key)
		}
		data, err := schedule.Kind.DecodeEvent(h["ce_type"], 1, fe.Value)
		if err != nil {
			t.Fatalf("%s: %v", fe.Key, err)
		}
		stream := h["ce_subject"]
		streams[stream] = append(streams[stream], aggregate.Envelope{Type: h["ce_type"], Schema: 1,
			Version: uint64(len(streams[stream]) + 1), Time: fe.Timestamp, Data: data})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return streams
}

// TestVersion1Fixture: events written by logic version 1 fold under this
// code, the cancellations upcast to "who canceled: unrecorded".
func TestVersion1Fixture(t *testing.T) {
	streams := readFixture(t)
	if len(streams) != 5 {
		t.Fatalf("%d streams in the fixture, want 5", len(streams))
	}
	fold := func(id string) schedule.State {
		s, _ := schedule.Definition.Rehydrate(streams[id])
		return s
	}
	c := fold("visit-canceled")
	if c.Status != schedule.StatusCanceled || c.Reservation.CanceledBy != schedule.CanceledByUnrecorded ||
		c.Reservation.CancelReason != "patient has a cold" || c.Reservation.Reschedules != 1 {
		t.Errorf("visit-canceled: %+v", c.Reservation)
	}
	if s := fold("visit-canceled-silent"); s.Reservation.CanceledBy != schedule.CanceledByUnrecorded || s.Reservation.CancelReason != "" {
		t.Errorf("visit-canceled-silent: %+v", s.Reservation)
	}
	if s := fold("visit-noshow"); s.Status != schedule.StatusNoShow {
		t.Errorf("visit-noshow: %s", s.Status)
	}
	p := fold("visit-photos")
	if p.Status != schedule.StatusCheckedOut || p.Photos.Len() != 2 || p.Photos.At(0).Count != 3 || p.Photos.At(1).Count != 4 {
		t.Errorf("visit-photos: %s, %+v", p.Status, p.Photos.All())
	}
	if s := fold("visit-full"); s.Status != schedule.StatusCheckedOut || s.Procedures.Len() != 1 {
		t.Errorf("visit-full: %s, %d procedures", s.Status, s.Procedures.Len())
	}

	// The same history, were it written today, folds to the same state.
	var fresh []aggregate.Envelope
	for _, e := range streams["visit-canceled"] {
		raw, err := schedule.Kind.EncodeEvent(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		data, err := schedule.Kind.DecodeEvent(e.Type, schedule.Kind.EventSchema(e.Type), raw)
		if err != nil {
			t.Fatal(err)
		}
		e.Data = data
		fresh = append(fresh, e)
	}
	if s, _ := schedule.Definition.Rehydrate(fresh); !statesEqual(t, s, c) {
		t.Error("the upcast history and the same history in version 2 fold differently")
	}
}

// TestCancellationSchema: new cancellations are written in version 2 and
// always say who canceled.
func TestCancellationSchema(t *testing.T) {
	if v := schedule.Kind.EventSchema("ReservationCanceled"); v != 2 {
		t.Fatalf("ReservationCanceled is written in version %d, want 2", v)
	}
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	reserved := schedule.State{Status: schedule.StatusReserved, Reservation: schedule.Reservation{Start: at.Add(time.Hour), End: at.Add(2 * time.Hour)}}
	for by, want := range map[string]string{"": schedule.CanceledByUnrecorded, "patient": "patient", "clinic": "clinic"} {
		c, err := schedule.Kind.DecodeCommand("CancelReservation", []byte(`{"by":"`+by+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		s, evs, err := schedule.Kind.Execute(reserved, 1, "CancelReservation", c, aggregate.Meta{Time: at})
		if err != nil || evs[0].Schema != 2 || s.(schedule.State).Reservation.CanceledBy != want {
			t.Errorf("by %q: %+v %v", by, evs, err)
		}
	}
	if _, err := schedule.Kind.DecodeCommand("CancelReservation", []byte(`{"by":"doctor"}`)); aggregate.CodeOf(err) != aggregate.CodeInvalidField {
		t.Errorf("by doctor: %v", err)
	}
}

// TestStateFormat1 decodes a state the code of logic version 1 encoded
// (format 1, before canceledBy): the replay preview reads the deployed
// build's states with the candidate's codec.
func TestStateFormat1(t *testing.T) {
	raw, _ := hex.DecodeString("010863616e63656c656405702d31303001a0a8eaa10d000001c0e0eaa10d00000377656201a0a8eaa10d000000000198a9eaa10d00001270617469656e7420686173206120636f6c64000000000001056c61736572000000000000")
	got, err := schedule.Kind.DecodeState(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := got.(schedule.State)
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	if s.Status != schedule.StatusCanceled || s.VisitorID != "p-100" || !s.Reservation.End.Equal(at.Add(time.Hour)) ||
		s.Reservation.CancelReason != "patient has a cold" || s.Reservation.CanceledBy != "" || len(s.Planned) != 1 {
		t.Fatalf("format 1: %+v", s)
	}
}

func statesEqual(t *testing.T, a, b schedule.State) bool {
	t.Helper()
	x, err := a.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}
