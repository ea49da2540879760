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
	{"reserve", nil, "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z","procedures":["botox"],"channel":"phone"}`, time.Time{}, []string{"Reserved"}, ""},
	{"reserve twice", []aggregate.Event{reserved}, "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, time.Time{}, nil, "already_reserved"},
	{"reserve when checked in", []aggregate.Event{reserved, checkedIn}, "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, time.Time{}, nil, "already_checked_in"},
	{"reserve end before start", nil, "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T10:00:00Z"}`, time.Time{}, nil, "invalid_time_range"},
	{"reserve over 24h", nil, "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-03T10:00:01Z"}`, time.Time{}, nil, "invalid_time_range"},
	{"reserve missing visitor", nil, "Reserve", `{"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, time.Time{}, nil, "missing_field"},
	{"reserve missing end", nil, "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z"}`, time.Time{}, nil, "missing_field"},
	{"reserve bad visitor id", nil, "Reserve", `{"visitorId":"../etc","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, time.Time{}, nil, "invalid_id"},
	{"reserve slash in procedure", nil, "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z","procedures":["a/b"]}`, time.Time{}, nil, "invalid_id"},
	{"reserve after cancel", []aggregate.Event{reserved, schedule.ReservationCanceled{}}, "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, time.Time{}, nil, "closed"},
	// Reschedule
	{"reschedule", []aggregate.Event{reserved}, "Reschedule", `{"start":"2026-03-02T12:00:00Z","end":"2026-03-02T13:00:00Z"}`, time.Time{}, []string{"Rescheduled"}, ""},
	{"reschedule unreserved", nil, "Reschedule", `{"start":"2026-03-02T12:00:00Z","end":"2026-03-02T13:00:00Z"}`, time.Time{}, nil, "not_reserved"},
	{"reschedule checked in", []aggregate.Event{reserved, checkedIn}, "Reschedule", `{"start":"2026-03-02T12:00:00Z","end":"2026-03-02T13:00:00Z"}`, time.Time{}, nil, "already_checked_in"},
	{"reschedule bad range", []aggregate.Event{reserved}, "Reschedule", `{"start":"2026-03-02T12:00:00Z","end":"2026-03-02T11:00:00Z"}`, time.Time{}, nil, "invalid_time_range"},
	// CancelReservation
	{"cancel", []aggregate.Event{reserved}, "CancelReservation", `{"reason":"sick"}`, time.Time{}, []string{"ReservationCanceled"}, ""},
	{"cancel unreserved", nil, "CancelReservation", `{}`, time.Time{}, nil, "not_reserved"},
	{"cancel checked in", []aggregate.Event{reserved, checkedIn}, "CancelReservation", `{}`, time.Time{}, nil, "already_checked_in"},
	{"cancel twice", []aggregate.Event{reserved, schedule.ReservationCanceled{}}, "CancelReservation", `{}`, time.Time{}, nil, "closed"},
	// MarkNoShow
	{"no-show", []aggregate.Event{reserved}, "MarkNoShow", ``, late, []string{"NoShowMarked"}, ""},
	{"no-show too early", []aggregate.Event{reserved}, "MarkNoShow", `{}`, t0, nil, "too_early"},
	{"no-show unreserved", nil, "MarkNoShow", `{}`, late, nil, "not_reserved"},
	{"no-show checked in", []aggregate.Event{reserved, checkedIn}, "MarkNoShow", `{}`, late, nil, "already_checked_in"},
	// CheckIn
	{"check in", []aggregate.Event{reserved}, "CheckIn", `{"channel":"kiosk"}`, time.Time{}, []string{"CheckedIn"}, ""},
	{"walk in", nil, "CheckIn", `{"channel":"desk","visitorId":"v9"}`, time.Time{}, []string{"CheckedIn"}, ""},
	{"walk in without visitor", nil, "CheckIn", `{"channel":"desk"}`, time.Time{}, nil, "missing_field"},
	{"check in other visitor", []aggregate.Event{reserved}, "CheckIn", `{"channel":"app","visitorId":"v2"}`, time.Time{}, nil, "visitor_mismatch"},
	{"check in twice", []aggregate.Event{reserved, checkedIn}, "CheckIn", `{"channel":"app"}`, time.Time{}, nil, "already_checked_in"},
	{"check in canceled", []aggregate.Event{reserved, schedule.ReservationCanceled{}}, "CheckIn", `{"channel":"app"}`, time.Time{}, nil, "closed"},
	{"check in no-show", []aggregate.Event{reserved, schedule.NoShowMarked{}}, "CheckIn", `{"channel":"app"}`, time.Time{}, nil, "closed"},
	{"check in bad channel", []aggregate.Event{reserved}, "CheckIn", `{"channel":"fax"}`, time.Time{}, nil, "invalid_field"},
	// StartConsultation / CompleteConsultation
	{"start consultation", []aggregate.Event{reserved, checkedIn}, "StartConsultation", `{"counselorId":"c7"}`, time.Time{}, []string{"ConsultationStarted"}, ""},
	{"consult before check-in", []aggregate.Event{reserved}, "StartConsultation", `{"counselorId":"c7"}`, time.Time{}, nil, "not_checked_in"},
	{"consult while busy", []aggregate.Event{reserved, checkedIn, consulting}, "StartConsultation", `{"counselorId":"c7"}`, time.Time{}, nil, "busy"},
	{"complete consultation", []aggregate.Event{reserved, checkedIn, consulting}, "CompleteConsultation", `{"procedures":["peel"]}`, time.Time{}, []string{"ConsultationCompleted"}, ""},
	{"complete without consultation", []aggregate.Event{reserved, checkedIn}, "CompleteConsultation", `{}`, time.Time{}, nil, "not_in_consultation"},
	// StartProcedure / CompleteProcedure
	{"start procedure", []aggregate.Event{reserved, checkedIn}, "StartProcedure", `{"procedureId":"botox","doctorId":"d1"}`, time.Time{}, []string{"ProcedureStarted"}, ""},
	{"start consultation-planned procedure", []aggregate.Event{reserved, checkedIn, consulting, consulted}, "StartProcedure", `{"procedureId":"peel","doctorId":"d1"}`, time.Time{}, []string{"ProcedureStarted"}, ""},
	{"procedure before check-in", []aggregate.Event{reserved}, "StartProcedure", `{"procedureId":"botox","doctorId":"d1"}`, time.Time{}, nil, "not_checked_in"},
	{"second procedure at once", []aggregate.Event{reserved, checkedIn, botoxStarted}, "StartProcedure", `{"procedureId":"laser","doctorId":"d2"}`, time.Time{}, nil, "procedure_in_progress"},
	{"unplanned procedure", []aggregate.Event{reserved, checkedIn}, "StartProcedure", `{"procedureId":"tattoo","doctorId":"d1"}`, time.Time{}, nil, "procedure_not_planned"},
	{"procedure during consultation", []aggregate.Event{reserved, checkedIn, consulting}, "StartProcedure", `{"procedureId":"botox","doctorId":"d1"}`, time.Time{}, nil, "busy"},
	{"procedure again", []aggregate.Event{reserved, checkedIn, botoxStarted, botoxDone}, "StartProcedure", `{"procedureId":"botox","doctorId":"d1"}`, time.Time{}, nil, "procedure_already_performed"},
	{"procedure missing doctor", []aggregate.Event{reserved, checkedIn}, "StartProcedure", `{"procedureId":"botox"}`, time.Time{}, nil, "missing_field"},
	{"complete procedure", []aggregate.Event{reserved, checkedIn, botoxStarted}, "CompleteProcedure", `{"procedureId":"botox"}`, time.Time{}, []string{"ProcedureCompleted"}, ""},
	{"complete other procedure", []aggregate.Event{reserved, checkedIn, botoxStarted}, "CompleteProcedure", `{"procedureId":"laser"}`, time.Time{}, nil, "procedure_not_in_progress"},
	{"complete idle procedure", []aggregate.Event{reserved, checkedIn}, "CompleteProcedure", `{"procedureId":"botox"}`, time.Time{}, nil, "procedure_not_in_progress"},
	// TakePhotos
	{"photos", []aggregate.Event{reserved, checkedIn}, "TakePhotos", `{"kind":"before","count":4}`, time.Time{}, []string{"PhotosTaken"}, ""},
	{"photos during procedure", []aggregate.Event{reserved, checkedIn, botoxStarted}, "TakePhotos", `{"kind":"after","count":1}`, time.Time{}, []string{"PhotosTaken"}, ""},
	{"photos before check-in", []aggregate.Event{reserved}, "TakePhotos", `{"kind":"before","count":4}`, time.Time{}, nil, "not_checked_in"},
	{"photos bad kind", []aggregate.Event{reserved, checkedIn}, "TakePhotos", `{"kind":"during","count":4}`, time.Time{}, nil, "invalid_field"},
	{"photos zero", []aggregate.Event{reserved, checkedIn}, "TakePhotos", `{"kind":"before","count":0}`, time.Time{}, nil, "invalid_field"},
	// Aftercare
	{"start aftercare", []aggregate.Event{reserved, checkedIn, botoxStarted, botoxDone}, "StartAftercare", `{}`, time.Time{}, []string{"AftercareStarted"}, ""},
	{"aftercare before check-in", []aggregate.Event{reserved}, "StartAftercare", `{}`, time.Time{}, nil, "not_checked_in"},
	{"aftercare during procedure", []aggregate.Event{reserved, checkedIn, botoxStarted}, "StartAftercare", `{}`, time.Time{}, nil, "procedure_in_progress"},
	{"aftercare during consultation", []aggregate.Event{reserved, checkedIn, consulting}, "StartAftercare", `{}`, time.Time{}, nil, "busy"},
	{"complete aftercare", []aggregate.Event{reserved, checkedIn, aftercare}, "CompleteAftercare", `{}`, time.Time{}, []string{"AftercareCompleted"}, ""},
	{"complete aftercare not started", []aggregate.Event{reserved, checkedIn}, "CompleteAftercare", `{}`, time.Time{}, nil, "not_in_aftercare"},
	{"complete aftercare before check-in", []aggregate.Event{reserved}, "CompleteAftercare", `{}`, time.Time{}, nil, "not_checked_in"},
	{"complete aftercare during procedure", []aggregate.Event{reserved, checkedIn, botoxStarted}, "CompleteAftercare", `{}`, time.Time{}, nil, "procedure_in_progress"},
	// CheckOut
	{"check out", []aggregate.Event{reserved, checkedIn, botoxStarted, botoxDone}, "CheckOut", `{}`, time.Time{}, []string{"CheckedOut"}, ""},
	{"check out before check-in", []aggregate.Event{reserved}, "CheckOut", `{}`, time.Time{}, nil, "not_checked_in"},
	{"check out twice", []aggregate.Event{reserved, checkedIn, checkedOut}, "CheckOut", `{}`, time.Time{}, nil, "closed"},
	{"check out during procedure", []aggregate.Event{reserved, checkedIn, botoxStarted}, "CheckOut", `{}`, time.Time{}, nil, "procedure_in_progress"},
	{"anything after check-out", []aggregate.Event{reserved, checkedIn, checkedOut}, "TakePhotos", `{"kind":"after","count":1}`, time.Time{}, nil, "closed"},
	// Kernel codes through the domain
	{"unknown type", nil, "Teleport", `{}`, time.Time{}, nil, "unknown_type"},
	{"malformed", nil, "Reserve", `{"visitorId":`, time.Time{}, nil, "malformed"},
	{"trailing data", nil, "CheckOut", `{} {}`, time.Time{}, nil, "malformed"},
	{"unknown field", nil, "CheckIn", `{"channel":"desk","visitorId":"v1","tenant":"evil"}`, time.Time{}, nil, "unknown_field"},
	{"wrong type", nil, "TakePhotos", `{"kind":"before","count":"four"}`, time.Time{}, nil, "invalid_field"},
	{"bad time", nil, "Reserve", `{"visitorId":"v1","start":"tomorrow","end":"2026-03-02T11:00:00Z"}`, time.Time{}, nil, "invalid_field"},
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
// rather than only asking for a walk-in's visitorId.
func TestCheckInOfUnknownSchedule(t *testing.T) {
	state, version := schedule.Definition.Rehydrate(nil)
	_, err := execute(state, version, "CheckIn", `{"channel":"desk"}`, aggregate.Meta{ID: "c", Time: t0})
	var r *aggregate.Rejection
	if !errors.As(err, &r) || r.Code != aggregate.CodeMissingField || !strings.Contains(r.Message, "no reservation exists for this schedule id") {
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
