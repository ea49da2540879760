package schedule

import (
	"slices"
	"time"

	"github.com/rewind/rewind/aggregate"
)

// Status is where a visit stands.
type Status string

// The visit statuses. Canceled, NoShow and CheckedOut are terminal.
const (
	StatusNew        Status = "new"
	StatusReserved   Status = "reserved"
	StatusCanceled   Status = "canceled"
	StatusNoShow     Status = "no_show"
	StatusCheckedIn  Status = "checked_in"
	StatusCheckedOut Status = "checked_out"
)

// Activity is what is in progress during a checked-in visit. A visit is
// "busy" while it is not ActivityNone.
type Activity string

// The activities.
const (
	ActivityNone         Activity = ""
	ActivityConsultation Activity = "consultation"
	ActivityProcedure    Activity = "procedure"
	ActivityAftercare    Activity = "aftercare"
)

// State is a schedule's state. It is a value: handlers copy what they
// change, so a state once returned never changes (time travel keeps old
// states around).
type State struct {
	Status      Status      `json:"status"`
	VisitorID   string      `json:"visitorId,omitempty"`
	Visitor     Visitor     `json:"visitor,omitzero"`
	Reservation Reservation `json:"reservation,omitzero"`
	CheckIn     CheckInInfo `json:"checkIn,omitzero"`
	// Activity is what is in progress now, if anything.
	Activity Activity `json:"activity,omitempty"`
	// Planned are the procedures named by Reserve or CompleteConsultation,
	// in order, without duplicates.
	Planned []string `json:"plannedProcedures,omitempty"`
	// The lists that grow with the visit are aggregate.Lists: an event
	// copies a chunk of them, not all of them (a long visit's fold stays
	// linear). They encode as JSON arrays.
	Consultations aggregate.List[Consultation] `json:"consultations,omitzero"`
	Procedures    aggregate.List[Procedure]    `json:"procedures,omitzero"`
	Photos        aggregate.List[Photos]       `json:"photos,omitzero"`
	Aftercare     Aftercare                    `json:"aftercare,omitzero"`
	CheckedOutAt  time.Time                    `json:"checkedOutAt,omitzero"`
}

// Reservation is the booked slot.
type Reservation struct {
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Channel       string    `json:"channel,omitempty"`
	ReservedAt    time.Time `json:"reservedAt"`
	RescheduledAt time.Time `json:"rescheduledAt,omitzero"`
	Reschedules   int       `json:"reschedules,omitempty"`
	CanceledAt    time.Time `json:"canceledAt,omitzero"`
	CanceledBy    string    `json:"canceledBy,omitempty"`
	CancelReason  string    `json:"cancelReason,omitempty" personal:"true"`
	NoShowAt      time.Time `json:"noShowAt,omitzero"`
}

// CheckInInfo records the arrival.
type CheckInInfo struct {
	At      time.Time `json:"at"`
	Channel string    `json:"channel"`
	WalkIn  bool      `json:"walkIn,omitempty"`
}

// Consultation is one consultation with a counselor.
type Consultation struct {
	CounselorID string    `json:"counselorId"`
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	Procedures  []string  `json:"procedures,omitempty"`
	Notes       string    `json:"notes,omitempty" personal:"true"`
}

// Procedure is one performed (or running) procedure.
type Procedure struct {
	ID          string    `json:"procedureId"`
	DoctorID    string    `json:"doctorId"`
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
}

// Photos is one photo session.
type Photos struct {
	Kind  string    `json:"kind"`
	Count int       `json:"count"`
	At    time.Time `json:"at"`
}

// Aftercare is the after-care step.
type Aftercare struct {
	StartedAt   time.Time `json:"startedAt,omitzero"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
}

// Terminal reports whether the visit is over: canceled, no-show or
// checked out.
func (s State) Terminal() bool {
	return s.Status == StatusCanceled || s.Status == StatusNoShow || s.Status == StatusCheckedOut
}

// Busy reports whether a consultation, procedure or after-care is in
// progress.
func (s State) Busy() bool { return s.Activity != ActivityNone }

// IsPlanned reports whether the procedure was planned.
func (s State) IsPlanned(procedureID string) bool { return slices.Contains(s.Planned, procedureID) }

// RunningProcedure returns the procedure in progress, if any.
func (s State) RunningProcedure() (Procedure, bool) {
	if s.Activity != ActivityProcedure {
		return Procedure{}, false
	}
	return s.Procedures.Last()
}

// performed reports whether the procedure was started before.
func (s State) performed(procedureID string) bool {
	for _, p := range s.Procedures.All() {
		if p.ID == procedureID {
			return true
		}
	}
	return false
}

// withPlanned returns planned extended by ids, without duplicates, in a new
// slice.
func withPlanned(planned, ids []string) []string {
	out := slices.Clip(planned)
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
