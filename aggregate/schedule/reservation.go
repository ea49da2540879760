package schedule

import (
	"time"

	"github.com/rewind/rewind/aggregate"
)

// Visitor is who a visit is for, as the clinic knows them: personal
// data, sealed before it is stored (docs/privacy.md).
type Visitor struct {
	Name  string `json:"name,omitempty" maxLength:"200" personal:"true" doc:"the visitor's name"`
	Phone string `json:"phone,omitempty" maxLength:"40" personal:"true" doc:"a phone number to reach the visitor"`
}

// The longest name and phone number taken, in bytes.
const (
	maxName  = 200
	maxPhone = 40
)

// check checks a visitor's fields, when there is one.
func (v *Visitor) check() error {
	switch {
	case v == nil:
		return nil
	case len(v.Name) > maxName:
		return aggregate.Reject(aggregate.CodeInvalidField, "visitor.name is longer than %d bytes", maxName)
	case len(v.Phone) > maxPhone:
		return aggregate.Reject(aggregate.CodeInvalidField, "visitor.phone is longer than %d bytes", maxPhone)
	}
	return nil
}

// Reserve books a slot for a visitor.
type Reserve struct {
	VisitorID  string    `json:"visitorId" format:"id" doc:"the patient"`
	Visitor    *Visitor  `json:"visitor,omitempty" doc:"the visitor's name and phone, if the clinic records them"`
	Start      time.Time `json:"start" doc:"the slot's start"`
	End        time.Time `json:"end" doc:"the slot's end: after start, at most 24 hours later"`
	Procedures []string  `json:"procedures,omitempty" format:"id" maxItems:"64" doc:"procedures planned for the visit"`
	Channel    string    `json:"channel,omitempty" format:"id" doc:"how it was booked (web, phone…)"`
}

// Validate checks the command's own fields.
func (c Reserve) Validate() error {
	if err := aggregate.CheckID("visitorId", c.VisitorID); err != nil {
		return err
	}
	if c.Channel != "" {
		if err := aggregate.CheckID("channel", c.Channel); err != nil {
			return err
		}
	}
	if err := checkProcedures(c.Procedures); err != nil {
		return err
	}
	if err := c.Visitor.check(); err != nil {
		return err
	}
	return checkTimeRange(c.Start, c.End)
}

// Reserved records a booking.
type Reserved struct {
	VisitorID  string    `json:"visitorId"`
	Visitor    *Visitor  `json:"visitor,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Procedures []string  `json:"procedures,omitempty"`
	Channel    string    `json:"channel,omitempty"`
}

func reserve(s State, c Reserve, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := open(s); err != nil {
		return nil, err
	}
	switch s.Status {
	case StatusCheckedIn:
		return nil, aggregate.Reject(CodeAlreadyCheckedIn, "the visitor has already checked in")
	case StatusReserved:
		return nil, aggregate.Reject(CodeAlreadyReserved, "a reservation is already active")
	}
	return []aggregate.Event{Reserved(c)}, nil
}

func onReserved(s State, e Reserved, env *aggregate.Envelope) State {
	s.Status = StatusReserved
	s.VisitorID = e.VisitorID
	if e.Visitor != nil {
		s.Visitor = *e.Visitor
	}
	s.Reservation = Reservation{Start: e.Start, End: e.End, Channel: e.Channel, ReservedAt: env.Time}
	s.Planned = withPlanned(s.Planned, e.Procedures)
	return s
}

// Reschedule moves the reserved slot.
type Reschedule struct {
	Start time.Time `json:"start" doc:"the new slot's start"`
	End   time.Time `json:"end" doc:"the new slot's end: after start, at most 24 hours later"`
}

// Validate checks the command's own fields.
func (c Reschedule) Validate() error { return checkTimeRange(c.Start, c.End) }

// Rescheduled records a moved slot.
type Rescheduled struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func reschedule(s State, c Reschedule, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := beforeCheckIn(s); err != nil {
		return nil, err
	}
	return []aggregate.Event{Rescheduled(c)}, nil
}

func onRescheduled(s State, e Rescheduled, env *aggregate.Envelope) State {
	s.Reservation.Start, s.Reservation.End = e.Start, e.End
	s.Reservation.RescheduledAt = env.Time
	s.Reservation.Reschedules++
	return s
}

// Who canceled a reservation. A late cancellation by the patient may be
// charged; one by the clinic never is, so the clinic needs to know which.
const (
	CanceledByPatient = "patient"
	CanceledByClinic  = "clinic"
	// CanceledByUnrecorded: the sender did not say, or the cancellation
	// was recorded before anyone was asked (schema version 1).
	CanceledByUnrecorded = "unrecorded"
)

// CancelReservation cancels the reservation; the visit ends.
type CancelReservation struct {
	// By is patient or clinic; empty records it as unrecorded.
	By     string `json:"by,omitempty" enum:"patient,clinic" doc:"who canceled; absent records unrecorded"`
	Reason string `json:"reason,omitempty" maxLength:"500" personal:"true" doc:"free text"`
}

// maxReason bounds the free-text reason.
const maxReason = 500

// Validate checks the command's own fields.
func (c CancelReservation) Validate() error {
	switch c.By {
	case "", CanceledByPatient, CanceledByClinic:
	default:
		return aggregate.Reject(aggregate.CodeInvalidField, "by must be patient or clinic")
	}
	if len(c.Reason) > maxReason {
		return aggregate.Reject(aggregate.CodeInvalidField, "reason is longer than %d bytes", maxReason)
	}
	return nil
}

// ReservationCanceled records a cancellation. Schema version 2: By says
// who canceled, always.
type ReservationCanceled struct {
	By     string `json:"by"`
	Reason string `json:"reason,omitempty" personal:"true"`
}

// ReservationCanceledV1 is ReservationCanceled as written before schema
// version 2 (logic version 1): it did not say who canceled.
type ReservationCanceledV1 struct {
	Reason string `json:"reason,omitempty" personal:"true"`
}

// upcastReservationCanceled: a cancellation recorded before the clinic
// asked who canceled is recorded as unrecorded, not guessed
// (canceledBeforeAsked).
func upcastReservationCanceled(e ReservationCanceledV1) ReservationCanceled {
	return ReservationCanceled{By: canceledBeforeAsked, Reason: e.Reason}
}

func cancelReservation(s State, c CancelReservation, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := beforeCheckIn(s); err != nil {
		return nil, err
	}
	by := c.By
	if by == "" {
		by = CanceledByUnrecorded
	}
	return []aggregate.Event{ReservationCanceled{By: by, Reason: c.Reason}}, nil
}

func onReservationCanceled(s State, e ReservationCanceled, env *aggregate.Envelope) State {
	s.Status = StatusCanceled
	s.Reservation.CanceledAt = env.Time
	s.Reservation.CanceledBy = e.By
	s.Reservation.CancelReason = e.Reason
	return s
}

// MarkNoShow records that the visitor did not come.
type MarkNoShow struct{}

// NoShowMarked records a no-show.
type NoShowMarked struct{}

func markNoShow(s State, _ MarkNoShow, m aggregate.Meta) ([]aggregate.Event, error) {
	if err := beforeCheckIn(s); err != nil {
		return nil, err
	}
	if m.Time.Before(s.Reservation.Start) {
		return nil, aggregate.Reject(CodeTooEarly, "the reservation has not started yet")
	}
	return []aggregate.Event{NoShowMarked{}}, nil
}

func onNoShowMarked(s State, _ NoShowMarked, env *aggregate.Envelope) State {
	s.Status = StatusNoShow
	s.Reservation.NoShowAt = env.Time
	return s
}
