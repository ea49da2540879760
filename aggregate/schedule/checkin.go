package schedule

import "github.com/rewind/rewind/aggregate"

// The check-in channels.
const (
	ChannelKiosk = "kiosk"
	ChannelDesk  = "desk"
	ChannelApp   = "app"
)

// CheckIn records the visitor's arrival. A walk-in (no reservation) must
// name the visitor.
type CheckIn struct {
	Channel   string   `json:"channel" enum:"kiosk,desk,app" doc:"where the visitor checked in"`
	VisitorID string   `json:"visitorId,omitempty" format:"id" doc:"required for a walk-in (no reservation); for a reservation, must match it"`
	Visitor   *Visitor `json:"visitor,omitempty" doc:"the visitor's name and phone: a walk-in's, or a correction of the reservation's"`
}

// Validate checks the command's own fields.
func (c CheckIn) Validate() error {
	switch c.Channel {
	case ChannelKiosk, ChannelDesk, ChannelApp:
	case "":
		return aggregate.Reject(aggregate.CodeMissingField, "channel is required")
	default:
		return aggregate.Reject(aggregate.CodeInvalidField, "channel must be kiosk, desk or app")
	}
	if c.VisitorID != "" {
		if err := aggregate.CheckID("visitorId", c.VisitorID); err != nil {
			return err
		}
	}
	return c.Visitor.check()
}

// CheckedIn records an arrival.
type CheckedIn struct {
	Channel   string   `json:"channel"`
	VisitorID string   `json:"visitorId,omitempty"`
	Visitor   *Visitor `json:"visitor,omitempty"`
	WalkIn    bool     `json:"walkIn,omitempty"`
}

func checkIn(s State, c CheckIn, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := open(s); err != nil {
		return nil, err
	}
	switch s.Status {
	case StatusCheckedIn:
		return nil, aggregate.Reject(CodeAlreadyCheckedIn, "the visitor has already checked in")
	case StatusReserved:
		if c.VisitorID != "" && c.VisitorID != s.VisitorID {
			return nil, aggregate.Reject(CodeVisitorMismatch, "visitorId differs from the reservation's")
		}
		return []aggregate.Event{CheckedIn{Channel: c.Channel, Visitor: c.Visitor}}, nil
	}
	if c.VisitorID == "" {
		// Most often a mistyped schedule id, not a walk-in: say both. The
		// schedule's state decides it, so it is a rule's code (409), not
		// a malformed command's (missing_field, 400).
		return nil, aggregate.Reject(CodeNotReserved,
			"no reservation exists for this schedule id; check the id, or send visitorId to check in a walk-in")
	}
	return []aggregate.Event{CheckedIn{Channel: c.Channel, VisitorID: c.VisitorID, Visitor: c.Visitor, WalkIn: true}}, nil
}

func onCheckedIn(s State, e CheckedIn, env *aggregate.Envelope) State {
	s.Status = StatusCheckedIn
	if e.VisitorID != "" {
		s.VisitorID = e.VisitorID
	}
	if e.Visitor != nil {
		s.Visitor = *e.Visitor
	}
	s.CheckIn = CheckInInfo{At: env.Time, Channel: e.Channel, WalkIn: e.WalkIn}
	return s
}

// CheckOut ends the visit.
type CheckOut struct{}

// CheckedOut records the end of the visit.
type CheckedOut struct{}

func checkOut(s State, _ CheckOut, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := checkedIn(s); err != nil {
		return nil, err
	}
	if err := noProcedureRunning(s); err != nil {
		return nil, err
	}
	return []aggregate.Event{CheckedOut{}}, nil
}

func onCheckedOut(s State, _ CheckedOut, env *aggregate.Envelope) State {
	s.Status = StatusCheckedOut
	s.CheckedOutAt = env.Time
	return s
}
