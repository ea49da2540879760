package schedule_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// history turns event data into envelopes one minute apart from t0.
func history(events ...aggregate.Event) []aggregate.Envelope {
	out := make([]aggregate.Envelope, len(events))
	for i, e := range events {
		typ, ok := schedule.Definition.EventType(e)
		if !ok {
			panic("unregistered event")
		}
		out[i] = aggregate.Envelope{Type: typ, Version: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Minute),
			Tenant: "t1", Stream: "s1", Initiator: "desk-1", PredecessorID: "c" + string(rune('a'+i)), Data: e}
	}
	return out
}

var (
	reserved = schedule.Reserved{VisitorID: "v1", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour),
		Procedures: []string{"botox", "laser"}, Channel: "web"}
	checkedIn    = schedule.CheckedIn{Channel: "desk"}
	consulting   = schedule.ConsultationStarted{CounselorID: "c7"}
	consulted    = schedule.ConsultationCompleted{Procedures: []string{"peel"}}
	botoxStarted = schedule.ProcedureStarted{ProcedureID: "botox", DoctorID: "d1"}
	botoxDone    = schedule.ProcedureCompleted{ProcedureID: "botox"}
	aftercare    = schedule.AftercareStarted{}
	checkedOut   = schedule.CheckedOut{}
)

var late = t0.Add(3 * time.Hour)

// cases are given events → when command → then events or a rejection code.
var cases = []struct {
	name  string
	given []aggregate.Event
	when  string
	data  string
	at    time.Time // command time; t0+1h30 when zero
	then  []string  // event types, when accepted
	code  string    // rejection code, when rejected
}{
	// Reserve
	{name: "reserve", when: "Reserve", data: `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z","procedures":["botox"],"channel":"phone"}`, then: []string{"Reserved"}},
	{name: "reserve twice", given: []aggregate.Event{reserved}, when: "Reserve", data: `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, code: "already_reserved"},
	{name: "reserve when checked in", given: []aggregate.Event{reserved, checkedIn}, when: "Reserve", data: `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, code: "already_checked_in"},
	{name: "reserve end before start", when: "Reserve", data: `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T10:00:00Z"}`, code: "invalid_time_range"},
	{name: "reserve over 24h", when: "Reserve", data: `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-03T10:00:01Z"}`, code: "invalid_time_range"},
	{name: "reserve with the visitor's name and phone", when: "Reserve", data: `{"visitorId":"v1","visitor":{"name":"Kim Minji","phone":"010-5555-1234"},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, then: []string{"Reserved"}},
	{name: "reserve with a name too long", when: "Reserve", data: `{"visitorId":"v1","visitor":{"name":"` + strings.Repeat("x", 201) + `"},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, code: "invalid_field"},
	{name: "reserve with an unknown visitor field", when: "Reserve", data: `{"visitorId":"v1","visitor":{"email":"a@b"},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, code: "unknown_field"},
	{name: "reserve missing visitor", when: "Reserve", data: `{"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, code: "missing_field"},
	{name: "reserve missing end", when: "Reserve", data: `{"visitorId":"v1","start":"2026-03-02T10:00:00Z"}`, code: "missing_field"},
	{name: "reserve bad visitor id", when: "Reserve", data: `{"visitorId":"../etc","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, code: "invalid_id"},
	{name: "reserve slash in procedure", when: "Reserve", data: `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z","procedures":["a/b"]}`, code: "invalid_id"},
	{name: "reserve after cancel", given: []aggregate.Event{reserved, schedule.ReservationCanceled{}}, when: "Reserve", data: `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, code: "closed"},
	// Reschedule
	{name: "reschedule", given: []aggregate.Event{reserved}, when: "Reschedule", data: `{"start":"2026-03-02T12:00:00Z","end":"2026-03-02T13:00:00Z"}`, then: []string{"Rescheduled"}},
	{name: "reschedule unreserved", when: "Reschedule", data: `{"start":"2026-03-02T12:00:00Z","end":"2026-03-02T13:00:00Z"}`, code: "not_reserved"},
	{name: "reschedule checked in", given: []aggregate.Event{reserved, checkedIn}, when: "Reschedule", data: `{"start":"2026-03-02T12:00:00Z","end":"2026-03-02T13:00:00Z"}`, code: "already_checked_in"},
	{name: "reschedule bad range", given: []aggregate.Event{reserved}, when: "Reschedule", data: `{"start":"2026-03-02T12:00:00Z","end":"2026-03-02T11:00:00Z"}`, code: "invalid_time_range"},
	// CancelReservation
	{name: "cancel", given: []aggregate.Event{reserved}, when: "CancelReservation", data: `{"reason":"sick"}`, then: []string{"ReservationCanceled"}},
	{name: "cancel unreserved", when: "CancelReservation", data: `{}`, code: "not_reserved"},
	{name: "cancel checked in", given: []aggregate.Event{reserved, checkedIn}, when: "CancelReservation", data: `{}`, code: "already_checked_in"},
	{name: "cancel twice", given: []aggregate.Event{reserved, schedule.ReservationCanceled{}}, when: "CancelReservation", data: `{}`, code: "closed"},
	// MarkNoShow
	{name: "no-show", given: []aggregate.Event{reserved}, when: "MarkNoShow", at: late, then: []string{"NoShowMarked"}},
	{name: "no-show too early", given: []aggregate.Event{reserved}, when: "MarkNoShow", data: `{}`, at: t0, code: "too_early"},
	{name: "no-show unreserved", when: "MarkNoShow", data: `{}`, at: late, code: "not_reserved"},
	{name: "no-show checked in", given: []aggregate.Event{reserved, checkedIn}, when: "MarkNoShow", data: `{}`, at: late, code: "already_checked_in"},
	// CheckIn
	{name: "check in", given: []aggregate.Event{reserved}, when: "CheckIn", data: `{"channel":"kiosk"}`, then: []string{"CheckedIn"}},
	{name: "walk in", when: "CheckIn", data: `{"channel":"desk","visitorId":"v9"}`, then: []string{"CheckedIn"}},
	{name: "walk in without visitor", when: "CheckIn", data: `{"channel":"desk"}`, code: "not_reserved"},
	{name: "check in other visitor", given: []aggregate.Event{reserved}, when: "CheckIn", data: `{"channel":"app","visitorId":"v2"}`, code: "visitor_mismatch"},
	{name: "check in twice", given: []aggregate.Event{reserved, checkedIn}, when: "CheckIn", data: `{"channel":"app"}`, code: "already_checked_in"},
	{name: "check in canceled", given: []aggregate.Event{reserved, schedule.ReservationCanceled{}}, when: "CheckIn", data: `{"channel":"app"}`, code: "closed"},
	{name: "check in no-show", given: []aggregate.Event{reserved, schedule.NoShowMarked{}}, when: "CheckIn", data: `{"channel":"app"}`, code: "closed"},
	{name: "check in bad channel", given: []aggregate.Event{reserved}, when: "CheckIn", data: `{"channel":"fax"}`, code: "invalid_field"},
	// StartConsultation / CompleteConsultation
	{name: "start consultation", given: []aggregate.Event{reserved, checkedIn}, when: "StartConsultation", data: `{"counselorId":"c7"}`, then: []string{"ConsultationStarted"}},
	{name: "consult before check-in", given: []aggregate.Event{reserved}, when: "StartConsultation", data: `{"counselorId":"c7"}`, code: "not_checked_in"},
	{name: "consult while busy", given: []aggregate.Event{reserved, checkedIn, consulting}, when: "StartConsultation", data: `{"counselorId":"c7"}`, code: "busy"},
	{name: "complete consultation", given: []aggregate.Event{reserved, checkedIn, consulting}, when: "CompleteConsultation", data: `{"procedures":["peel"]}`, then: []string{"ConsultationCompleted"}},
	{name: "complete consultation with notes", given: []aggregate.Event{reserved, checkedIn, consulting}, when: "CompleteConsultation", data: `{"notes":"allergic to lidocaine"}`, then: []string{"ConsultationCompleted"}},
	{name: "complete consultation, notes too long", given: []aggregate.Event{reserved, checkedIn, consulting}, when: "CompleteConsultation", data: `{"notes":"` + strings.Repeat("x", 4001) + `"}`, code: "invalid_field"},
	{name: "complete without consultation", given: []aggregate.Event{reserved, checkedIn}, when: "CompleteConsultation", data: `{}`, code: "not_in_consultation"},
	// StartProcedure / CompleteProcedure
	{name: "start procedure", given: []aggregate.Event{reserved, checkedIn}, when: "StartProcedure", data: `{"procedureId":"botox","doctorId":"d1"}`, then: []string{"ProcedureStarted"}},
	{name: "start consultation-planned procedure", given: []aggregate.Event{reserved, checkedIn, consulting, consulted}, when: "StartProcedure", data: `{"procedureId":"peel","doctorId":"d1"}`, then: []string{"ProcedureStarted"}},
	{name: "procedure before check-in", given: []aggregate.Event{reserved}, when: "StartProcedure", data: `{"procedureId":"botox","doctorId":"d1"}`, code: "not_checked_in"},
	{name: "second procedure at once", given: []aggregate.Event{reserved, checkedIn, botoxStarted}, when: "StartProcedure", data: `{"procedureId":"laser","doctorId":"d2"}`, code: "procedure_in_progress"},
	{name: "unplanned procedure", given: []aggregate.Event{reserved, checkedIn}, when: "StartProcedure", data: `{"procedureId":"tattoo","doctorId":"d1"}`, code: "procedure_not_planned"},
	{name: "procedure during consultation", given: []aggregate.Event{reserved, checkedIn, consulting}, when: "StartProcedure", data: `{"procedureId":"botox","doctorId":"d1"}`, code: "busy"},
	{name: "procedure again", given: []aggregate.Event{reserved, checkedIn, botoxStarted, botoxDone}, when: "StartProcedure", data: `{"procedureId":"botox","doctorId":"d1"}`, code: "procedure_already_performed"},
	{name: "procedure missing doctor", given: []aggregate.Event{reserved, checkedIn}, when: "StartProcedure", data: `{"procedureId":"botox"}`, code: "missing_field"},
	{name: "complete procedure", given: []aggregate.Event{reserved, checkedIn, botoxStarted}, when: "CompleteProcedure", data: `{"procedureId":"botox"}`, then: []string{"ProcedureCompleted"}},
	{name: "complete other procedure", given: []aggregate.Event{reserved, checkedIn, botoxStarted}, when: "CompleteProcedure", data: `{"procedureId":"laser"}`, code: "procedure_not_in_progress"},
	{name: "complete idle procedure", given: []aggregate.Event{reserved, checkedIn}, when: "CompleteProcedure", data: `{"procedureId":"botox"}`, code: "procedure_not_in_progress"},
	// TakePhotos
	{name: "photos", given: []aggregate.Event{reserved, checkedIn}, when: "TakePhotos", data: `{"kind":"before","count":4}`, then: []string{"PhotosTaken"}},
	{name: "photos during procedure", given: []aggregate.Event{reserved, checkedIn, botoxStarted}, when: "TakePhotos", data: `{"kind":"after","count":1}`, then: []string{"PhotosTaken"}},
	{name: "photos before check-in", given: []aggregate.Event{reserved}, when: "TakePhotos", data: `{"kind":"before","count":4}`, code: "not_checked_in"},
	{name: "photos bad kind", given: []aggregate.Event{reserved, checkedIn}, when: "TakePhotos", data: `{"kind":"during","count":4}`, code: "invalid_field"},
	{name: "photos zero", given: []aggregate.Event{reserved, checkedIn}, when: "TakePhotos", data: `{"kind":"before","count":0}`, code: "invalid_field"},
	// Aftercare
	{name: "start aftercare", given: []aggregate.Event{reserved, checkedIn, botoxStarted, botoxDone}, when: "StartAftercare", data: `{}`, then: []string{"AftercareStarted"}},
	{name: "aftercare before check-in", given: []aggregate.Event{reserved}, when: "StartAftercare", data: `{}`, code: "not_checked_in"},
	{name: "aftercare during procedure", given: []aggregate.Event{reserved, checkedIn, botoxStarted}, when: "StartAftercare", data: `{}`, code: "procedure_in_progress"},
	{name: "aftercare during consultation", given: []aggregate.Event{reserved, checkedIn, consulting}, when: "StartAftercare", data: `{}`, code: "busy"},
	{name: "complete aftercare", given: []aggregate.Event{reserved, checkedIn, aftercare}, when: "CompleteAftercare", data: `{}`, then: []string{"AftercareCompleted"}},
	{name: "complete aftercare not started", given: []aggregate.Event{reserved, checkedIn}, when: "CompleteAftercare", data: `{}`, code: "not_in_aftercare"},
	{name: "complete aftercare before check-in", given: []aggregate.Event{reserved}, when: "CompleteAftercare", data: `{}`, code: "not_checked_in"},
	{name: "complete aftercare during procedure", given: []aggregate.Event{reserved, checkedIn, botoxStarted}, when: "CompleteAftercare", data: `{}`, code: "procedure_in_progress"},
	// CheckOut
	{name: "check out", given: []aggregate.Event{reserved, checkedIn, botoxStarted, botoxDone}, when: "CheckOut", data: `{}`, then: []string{"CheckedOut"}},
	{name: "check out before check-in", given: []aggregate.Event{reserved}, when: "CheckOut", data: `{}`, code: "not_checked_in"},
	{name: "check out twice", given: []aggregate.Event{reserved, checkedIn, checkedOut}, when: "CheckOut", data: `{}`, code: "closed"},
	{name: "check out during procedure", given: []aggregate.Event{reserved, checkedIn, botoxStarted}, when: "CheckOut", data: `{}`, code: "procedure_in_progress"},
	{name: "anything after check-out", given: []aggregate.Event{reserved, checkedIn, checkedOut}, when: "TakePhotos", data: `{"kind":"after","count":1}`, code: "closed"},
	// Kernel codes through the domain
	{name: "unknown type", when: "Teleport", data: `{}`, code: "unknown_type"},
	{name: "malformed", when: "Reserve", data: `{"visitorId":`, code: "malformed"},
	{name: "trailing data", when: "CheckOut", data: `{} {}`, code: "malformed"},
	{name: "unknown field", when: "CheckIn", data: `{"channel":"desk","visitorId":"v1","tenant":"evil"}`, code: "unknown_field"},
	{name: "wrong type", when: "TakePhotos", data: `{"kind":"before","count":"four"}`, code: "invalid_field"},
	{name: "bad time", when: "Reserve", data: `{"visitorId":"v1","start":"tomorrow","end":"2026-03-02T11:00:00Z"}`, code: "invalid_field"},
}

func TestGivenWhenThen(t *testing.T) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			state, version := schedule.Definition.Rehydrate(history(tt.given...))
			at := tt.at
			if at.IsZero() {
				at = t0.Add(90 * time.Minute)
			}
			meta := aggregate.Meta{ID: "cmd", Tenant: "t1", Stream: "s1", Initiator: "desk-1", Time: at}
			events, err := execute(state, version, tt.when, tt.data, meta)
			if tt.code != "" {
				if got := aggregate.CodeOf(err); got != tt.code {
					t.Fatalf("want rejection %q, got events %v, err %v", tt.code, types(events), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("want %v, got %v", tt.then, err)
			}
			if got := types(events); !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("want %v, got %v", tt.then, got)
			}
			if events[0].Version != version+1 || events[0].PredecessorID != "cmd" || !events[0].Time.Equal(at) {
				t.Fatalf("bad envelope %+v", events[0])
			}
		})
	}
}

func execute(s schedule.State, version uint64, typ, data string, m aggregate.Meta) ([]aggregate.Envelope, error) {
	cmd, err := schedule.Definition.DecodeCommand(typ, []byte(data))
	if err != nil {
		return nil, err
	}
	_, events, err := schedule.Definition.Execute(s, version, typ, cmd, m)
	return events, err
}

func types(events []aggregate.Envelope) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

func TestEveryCodeIsCovered(t *testing.T) {
	// Guards the table above: a new code without a test fails here.
	codes := []string{
		schedule.CodeAlreadyReserved, schedule.CodeAlreadyCheckedIn, schedule.CodeInvalidTimeRange,
		schedule.CodeNotReserved, schedule.CodeTooEarly, schedule.CodeNotCheckedIn, schedule.CodeBusy,
		schedule.CodeClosed, schedule.CodeNotInConsultation, schedule.CodeProcedureInProgress,
		schedule.CodeProcedureNotPlanned, schedule.CodeProcedureNotInProgress,
		schedule.CodeProcedureAlreadyPerformed, schedule.CodeNotInAftercare, schedule.CodeVisitorMismatch,
	}
	if len(schedule.Definition.CommandTypes()) != 13 || len(schedule.Definition.EventTypes()) != 13 {
		t.Fatalf("want 13 commands and 13 events, got %d and %d",
			len(schedule.Definition.CommandTypes()), len(schedule.Definition.EventTypes()))
	}
	accepted, rejected := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		if c.code != "" {
			rejected[c.code] = true
		} else {
			accepted[c.when] = true
		}
	}
	for _, code := range codes {
		if !rejected[code] {
			t.Errorf("no case is rejected with %q", code)
		}
	}
	for _, typ := range schedule.Definition.CommandTypes() {
		if !accepted[typ] {
			t.Errorf("no case accepts %s", typ)
		}
	}
}

func TestExpectedVersion(t *testing.T) {
	state, version := schedule.Definition.Rehydrate(history(reserved))
	m := aggregate.Meta{ID: "c", Time: t0, ExpectedVersion: 0, HasExpectedVersion: true}
	if _, err := execute(state, version, "CheckIn", `{"channel":"desk"}`, m); aggregate.CodeOf(err) != aggregate.CodeVersionConflict {
		t.Fatalf("want version_conflict, got %v", err)
	}
	m.ExpectedVersion = 1
	if _, err := execute(state, version, "CheckIn", `{"channel":"desk"}`, m); err != nil {
		t.Fatalf("matching version rejected: %v", err)
	}
}

func TestHandlersDoNotShareMemory(t *testing.T) {
	// Time travel keeps old states: a later event must not change them.
	events := history(reserved, checkedIn, botoxStarted, botoxDone,
		schedule.ProcedureStarted{ProcedureID: "laser", DoctorID: "d2"})
	before, _ := schedule.Definition.RehydrateVersion(events, 3)
	snapshot := clone(t, before)
	after := before
	for i := 3; i < len(events); i++ {
		after = schedule.Definition.Apply(after, &events[i])
	}
	if !reflect.DeepEqual(before, snapshot) {
		t.Fatalf("folding later events changed an earlier state:\n%+v\n%+v", before, snapshot)
	}
	if after.Procedures.Len() != 2 || after.Procedures.At(0).CompletedAt.IsZero() {
		t.Fatalf("unexpected final state %+v", after.Procedures)
	}
}

func clone(t *testing.T, s schedule.State) schedule.State {
	t.Helper()
	data, err := schedule.Kind.AppendState(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := schedule.Kind.DecodeState(data)
	if err != nil {
		t.Fatal(err)
	}
	return out.(schedule.State)
}

// TestCheckInOfUnknownSchedule: a check-in without visitorId on a schedule
// with no reservation is most often a mistyped id; the rejection says so
// rather than only asking for a walk-in's visitorId, with the code of a
// rule (not_reserved, 409), not of a malformed command (missing_field).
func TestCheckInOfUnknownSchedule(t *testing.T) {
	state, version := schedule.Definition.Rehydrate(nil)
	_, err := execute(state, version, "CheckIn", `{"channel":"desk"}`, aggregate.Meta{ID: "c", Time: t0})
	var r *aggregate.Rejection
	if !errors.As(err, &r) || r.Code != schedule.CodeNotReserved || !strings.Contains(r.Message, "no reservation exists for this schedule id") {
		t.Fatalf("got %v", err)
	}
}

// TestCatalogCodes: the codes each command is documented with (the
// catalogue, from Describe) are exactly those its rule cases above are
// rejected with, besides closed, version_conflict and the decoding codes
// every command can get.
func TestCatalogCodes(t *testing.T) {
	everyCommand := map[string]bool{schedule.CodeClosed: true, aggregate.CodeVersionConflict: true, aggregate.CodeMalformed: true,
		aggregate.CodeUnknownField: true, aggregate.CodeInvalidField: true, aggregate.CodeMissingField: true, aggregate.CodeInvalidID: true}
	seen := map[string]map[string]bool{}
	for _, c := range cases {
		if c.code == "" {
			continue
		}
		if seen[c.when] == nil {
			seen[c.when] = map[string]bool{}
		}
		seen[c.when][c.code] = true
	}
	for _, info := range schedule.Definition.Commands() {
		if info.Summary == "" {
			t.Errorf("%s has no summary", info.Name)
		}
		documented := map[string]bool{}
		for _, code := range info.Codes {
			documented[code] = true
			if !seen[info.Name][code] {
				t.Errorf("%s is documented with %s, but no case is rejected with it", info.Name, code)
			}
		}
		for code := range seen[info.Name] {
			if !documented[code] && !everyCommand[code] {
				t.Errorf("%s is rejected with %s in a case, but not documented with it", info.Name, code)
			}
		}
	}
	for _, info := range schedule.Definition.Events() {
		if info.Summary == "" {
			t.Errorf("%s has no summary", info.Name)
		}
	}
}

// TestPersonalFields: the fields the domain marks personal, the ones the
// catalogue and docs/privacy.md list, and whose data they are.
func TestPersonalFields(t *testing.T) {
	want := map[string][]string{
		"Reserve": {"visitor.name", "visitor.phone"}, "CheckIn": {"visitor.name", "visitor.phone"},
		"CompleteConsultation": {"notes"}, "CancelReservation": {"reason"},
	}
	for _, c := range schedule.Definition.Commands() {
		got := aggregate.PersonalFields(c.Type)
		if !reflect.DeepEqual(got, want[c.Name]) && (len(got) > 0 || len(want[c.Name]) > 0) {
			t.Errorf("%s: personal fields %v, want %v", c.Name, got, want[c.Name])
		}
	}
	reserve, _ := schedule.Definition.DecodeCommand("Reserve", []byte(`{"visitorId":"v9","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`))
	cancel, _ := schedule.Definition.DecodeCommand("CancelReservation", []byte(`{}`))
	seed := schedule.Definition.Seed()
	s, _ := schedule.Definition.Rehydrate(history(reserved))
	for _, tc := range []struct {
		name  string
		state schedule.State
		cmd   aggregate.Command
		want  string
	}{
		{"a new schedule: the visitor the command names", seed, reserve, "v9"},
		{"a schedule with a visitor: that one", s, cancel, "v1"},
		{"no visitor anywhere", seed, cancel, ""},
	} {
		if got := schedule.Definition.Subject(tc.state, tc.cmd); got != tc.want {
			t.Errorf("%s: subject %q, want %q", tc.name, got, tc.want)
		}
	}
}
