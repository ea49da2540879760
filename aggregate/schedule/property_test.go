package schedule_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
)

// randomCommand draws a command, mostly well-formed, from a small pool of
// ids so that rules actually collide.
func randomCommand(r *rand.Rand, now time.Time) (string, string) {
	ids := []string{"botox", "laser", "peel", "tattoo"}
	id := func() string { return ids[r.IntN(len(ids))] }
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	switch r.IntN(13) {
	case 0:
		return "Reserve", fmt.Sprintf(`{"visitorId":"v%d","start":%q,"end":%q,"procedures":[%q,%q]}`,
			r.IntN(3), ts(time.Duration(r.IntN(120)-30)*time.Minute), ts(time.Duration(r.IntN(200)-10)*time.Minute), id(), id())
	case 1:
		return "Reschedule", fmt.Sprintf(`{"start":%q,"end":%q}`, ts(time.Hour), ts(time.Duration(r.IntN(3)+1)*time.Hour))
	case 2:
		return "CancelReservation", `{"reason":"r"}`
	case 3:
		return "MarkNoShow", `{}`
	case 4:
		return "CheckIn", fmt.Sprintf(`{"channel":"kiosk","visitorId":"v%d"}`, r.IntN(3))
	case 5:
		return "StartConsultation", `{"counselorId":"c1"}`
	case 6:
		return "CompleteConsultation", fmt.Sprintf(`{"procedures":[%q]}`, id())
	case 7, 8:
		return "StartProcedure", fmt.Sprintf(`{"procedureId":%q,"doctorId":"d%d"}`, id(), r.IntN(3))
	case 9:
		return "CompleteProcedure", fmt.Sprintf(`{"procedureId":%q}`, id())
	case 10:
		return "TakePhotos", `{"kind":"after","count":2}`
	case 11:
		if r.IntN(2) == 0 {
			return "StartAftercare", `{}`
		}
		return "CompleteAftercare", `{}`
	default:
		return "CheckOut", `{}`
	}
}

// runSequence executes n random commands and checks the state machine's
// invariants after each step. It returns the accepted events.
func runSequence(t *testing.T, r *rand.Rand, n int) []aggregate.Envelope {
	t.Helper()
	d := schedule.Definition
	state, version := d.Seed(), uint64(0)
	var log []aggregate.Envelope
	var steps []schedule.State // state after each version
	now := t0
	for i := range n {
		now = now.Add(time.Duration(r.IntN(20)) * time.Minute)
		typ, data := randomCommand(r, t0)
		cmd, err := d.DecodeCommand(typ, []byte(data))
		if err != nil {
			if aggregate.CodeOf(err) == "" {
				t.Fatalf("step %d: decode error without a code: %v", i, err)
			}
			continue
		}
		m := aggregate.Meta{ID: fmt.Sprint("c", i), Tenant: "t", Stream: "s", Time: now}
		next, events, err := d.Execute(state, version, typ, cmd, m)
		if err != nil {
			if aggregate.CodeOf(err) == "" {
				t.Fatalf("step %d: %s rejected without a code: %v", i, typ, err)
			}
			if !reflect.DeepEqual(next, state) {
				t.Fatalf("step %d: a rejection changed the state", i)
			}
			continue
		}
		if state.Terminal() && len(events) > 0 {
			t.Fatalf("step %d: %s accepted on a terminal visit (%s)", i, typ, state.Status)
		}
		for _, e := range events {
			version++
			if e.Version != version {
				t.Fatalf("step %d: event version %d, want %d", i, e.Version, version)
			}
			log = append(log, e)
			steps = append(steps, d.Apply(lastOr(steps, d.Seed()), &e))
		}
		state = next
		checkInvariants(t, i, state)
	}
	if got, v := d.Rehydrate(log); !reflect.DeepEqual(got, state) || v != version {
		t.Fatalf("rehydrate differs from the state built step by step:\n%+v\n%+v", got, state)
	}
	for i, want := range steps {
		if got, _ := d.RehydrateVersion(log, uint64(i+1)); !reflect.DeepEqual(got, want) {
			t.Fatalf("state at version %d differs", i+1)
		}
	}
	return log
}

func lastOr(s []schedule.State, seed schedule.State) schedule.State {
	if len(s) == 0 {
		return seed
	}
	return s[len(s)-1]
}

func checkInvariants(t *testing.T, step int, s schedule.State) {
	t.Helper()
	running := 0
	for _, p := range s.Procedures.All() {
		if p.CompletedAt.IsZero() {
			running++
		}
	}
	if running > 1 {
		t.Fatalf("step %d: %d procedures in progress", step, running)
	}
	if (running == 1) != (s.Activity == schedule.ActivityProcedure) {
		t.Fatalf("step %d: %d running procedures but activity %q", step, running, s.Activity)
	}
	for _, p := range s.Procedures.All() {
		if !s.IsPlanned(p.ID) {
			t.Fatalf("step %d: unplanned procedure %s performed", step, p.ID)
		}
	}
}

func TestRandomSequences(t *testing.T) {
	seen := map[string]int{}
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 42))
		for _, e := range runSequence(t, r, 60) {
			seen[e.Type]++
		}
	}
	// The generator must reach every event, or the invariants are checked
	// on too little.
	for _, typ := range schedule.Definition.EventTypes() {
		if seen[typ] == 0 {
			t.Errorf("no random sequence produced %s", typ)
		}
	}
}

// FuzzSequence lets the fuzzer pick the seeds of command sequences.
func FuzzSequence(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint8(40))
	f.Fuzz(func(t *testing.T, a, b uint64, n uint8) {
		runSequence(t, rand.New(rand.NewPCG(a, b)), int(n))
	})
}

// FuzzDecodeCommand feeds arbitrary bytes to every command decoder: it
// must return a command or a coded rejection, never panic.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range cases {
		f.Add(c.when, []byte(c.data))
	}
	f.Add("Reserve", []byte(`{"visitorId":"v","start":null,"end":1e999}`))
	f.Add("TakePhotos", []byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		cmd, err := schedule.Definition.DecodeCommand(typ, data)
		if err != nil {
			if aggregate.CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		// A decoded command must execute without panicking on any state.
		_, _, err = schedule.Definition.Execute(schedule.Definition.Seed(), 0, typ, cmd, aggregate.Meta{Time: t0})
		if err != nil && aggregate.CodeOf(err) == "" {
			t.Fatalf("execute error without a code: %v", err)
		}
	})
}
