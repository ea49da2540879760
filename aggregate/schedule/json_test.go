package schedule_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate/schedule"
)

// TestAppendJSONMatchesEncodingJSON compares the hand-written encoder with
// encoding/json on random states, including zero values, odd strings and
// times with and without fractions.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := range 3000 {
		s := randomState(r)
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.AppendJSON(nil)
		if err != nil || string(got) != string(want) {
			t.Fatalf("state %d:\n got %s (%v)\nwant %s", i, got, err, want)
		}
	}
}

// randomState builds a state with random fields, including zero values,
// odd strings and times with and without fractions or zone offsets.
func randomState(r *rand.Rand) schedule.State {
	strs := []string{"", "a", "dr-kim", `quote"d`, "back\\slash", "<b>&amp;", "tab\there", "é ü 한", "\u2028", "ctl\x01", "new\nline"}
	str := func() string { return strs[r.IntN(len(strs))] }
	tm := func() time.Time {
		switch r.IntN(5) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		case 2:
			return time.Date(2026, 3, 2, 10, 0, 0, r.IntN(1e9), time.UTC)
		case 3:
			return time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("", 3600*(r.IntN(27)-12)))
		}
		return time.Unix(r.Int64N(4e9), 0).UTC()
	}
	list := func() []string {
		var out []string
		for range r.IntN(3) {
			out = append(out, str())
		}
		return out
	}
	s := schedule.State{Status: schedule.Status(str()), VisitorID: str(), Activity: schedule.Activity(str()), Planned: list(), CheckedOutAt: tm()}
	if r.IntN(2) == 0 {
		s.Visitor = schedule.Visitor{Name: str(), Phone: str()}
	}
	if r.IntN(2) == 0 {
		s.Reservation = schedule.Reservation{Start: tm(), End: tm(), Channel: str(), ReservedAt: tm(), RescheduledAt: tm(),
			Reschedules: r.IntN(3), CanceledAt: tm(), CancelReason: str(), NoShowAt: tm()}
	}
	if r.IntN(2) == 0 {
		s.CheckIn = schedule.CheckInInfo{At: tm(), Channel: str(), WalkIn: r.IntN(2) == 0}
	}
	if r.IntN(2) == 0 {
		s.Aftercare = schedule.Aftercare{StartedAt: tm(), CompletedAt: tm()}
	}
	for range r.IntN(40) {
		s.Photos = s.Photos.Append(schedule.Photos{Kind: str(), Count: r.IntN(5) - 1, At: tm()})
	}
	for range r.IntN(3) {
		s.Procedures = s.Procedures.Append(schedule.Procedure{ID: str(), DoctorID: str(), StartedAt: tm(), CompletedAt: tm()})
		s.Consultations = s.Consultations.Append(schedule.Consultation{CounselorID: str(), StartedAt: tm(), CompletedAt: tm(), Procedures: list(), Notes: str()})
	}
	return s
}

func TestAppendJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	s := schedule.State{Status: "reserved", CheckedOutAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(s); err == nil {
		t.Fatal("encoding/json accepted year 10000")
	}
	if _, err := s.AppendJSON(nil); err == nil {
		t.Fatal("AppendJSON accepted year 10000")
	}
}

func BenchmarkStateJSON(b *testing.B) {
	var s schedule.State
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range 5000 {
		s.Photos = s.Photos.Append(schedule.Photos{Kind: "after", Count: 1, At: at.Add(time.Duration(i) * time.Second)})
	}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(s)
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = s.AppendJSON(buf[:0])
		}
	})
}

func BenchmarkSmallStateJSON(b *testing.B) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := schedule.State{Status: schedule.StatusReserved, VisitorID: "v-1234", Planned: []string{"botox"},
		Reservation: schedule.Reservation{Start: at, End: at.Add(time.Hour), ReservedAt: at.Add(-time.Hour), RescheduledAt: at, Reschedules: 3}}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(s)
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		for b.Loop() {
			s.AppendJSON(nil)
		}
	})
}
