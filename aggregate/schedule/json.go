package schedule

import (
	"errors"
	"strconv"
	"time"

	"github.com/rewind/rewind/aggregate"
)

// AppendJSON appends the state's JSON to b: byte for byte what
// encoding/json writes for it (a test holds the two equal), without
// reflection and without encoding/json's second pass over what Marshalers
// return. The read side answers states of thousands of photo sessions;
// there encoding/json was most of the time of an answer.
func (s *State) AppendJSON(b []byte) ([]byte, error) {
	e := jsonAppender{b: append(b, '{')}
	e.str("status", string(s.Status))
	e.strOmit("visitorId", s.VisitorID)
	if v := s.Visitor; v != (Visitor{}) {
		e.open("visitor")
		e.strOmit("name", v.Name)
		e.strOmit("phone", v.Phone)
		e.end()
	}
	if r := s.Reservation; r != (Reservation{}) {
		e.reservation(r)
	}
	if c := s.CheckIn; c != (CheckInInfo{}) {
		e.open("checkIn")
		e.time("at", c.At)
		e.str("channel", c.Channel)
		if c.WalkIn {
			e.key("walkIn")
			e.b = append(e.b, "true"...)
		}
		e.end()
	}
	e.strOmit("activity", string(s.Activity))
	if len(s.Planned) > 0 {
		e.key("plannedProcedures")
		e.strings(s.Planned)
	}
	objects(&e, "consultations", s.Consultations, func(c Consultation) {
		e.str("counselorId", c.CounselorID)
		e.time("startedAt", c.StartedAt)
		e.timeOmit("completedAt", c.CompletedAt)
		if len(c.Procedures) > 0 {
			e.key("procedures")
			e.strings(c.Procedures)
		}
		e.strOmit("notes", c.Notes)
	})
	objects(&e, "procedures", s.Procedures, func(p Procedure) {
		e.str("procedureId", p.ID)
		e.str("doctorId", p.DoctorID)
		e.time("startedAt", p.StartedAt)
		e.timeOmit("completedAt", p.CompletedAt)
	})
	objects(&e, "photos", s.Photos, func(p Photos) {
		e.str("kind", p.Kind)
		e.key("count")
		e.b = strconv.AppendInt(e.b, int64(p.Count), 10)
		e.time("at", p.At)
	})
	if a := s.Aftercare; a != (Aftercare{}) {
		e.open("aftercare")
		e.timeOmit("startedAt", a.StartedAt)
		e.timeOmit("completedAt", a.CompletedAt)
		e.end()
	}
	e.timeOmit("checkedOutAt", s.CheckedOutAt)
	e.b = append(e.b, '}')
	return e.b, e.err
}

// reservation writes the reservation member.
func (e *jsonAppender) reservation(r Reservation) {
	e.open("reservation")
	e.time("start", r.Start)
	e.time("end", r.End)
	e.strOmit("channel", r.Channel)
	e.time("reservedAt", r.ReservedAt)
	e.timeOmit("rescheduledAt", r.RescheduledAt)
	if r.Reschedules != 0 {
		e.key("reschedules")
		e.b = strconv.AppendInt(e.b, int64(r.Reschedules), 10)
	}
	e.timeOmit("canceledAt", r.CanceledAt)
	e.strOmit("canceledBy", r.CanceledBy)
	e.strOmit("cancelReason", r.CancelReason)
	e.timeOmit("noShowAt", r.NoShowAt)
	e.end()
}

// open starts the object member key.
func (e *jsonAppender) open(key string) {
	e.key(key)
	e.b = append(e.b, '{')
	e.first = true
}

// objects writes a non-empty list as an array of objects under key;
// members writes one element's members.
func objects[T any](e *jsonAppender, key string, l aggregate.List[T], members func(T)) {
	if l.Len() == 0 {
		return
	}
	e.key(key)
	e.b = append(e.b, '[')
	for i, x := range l.All() {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, '{')
		e.first = true
		members(x)
		e.end()
	}
	e.b = append(e.b, ']')
}

// jsonAppender writes the members of JSON objects.
type jsonAppender struct {
	b     []byte
	first bool // no member written yet in the current object
	err   error
}

func (e *jsonAppender) key(k string) {
	if !e.first && e.b[len(e.b)-1] != '{' {
		e.b = append(e.b, ',')
	}
	e.first = false
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *jsonAppender) end() {
	e.b = append(e.b, '}')
	e.first = false
}

func (e *jsonAppender) str(k, v string) {
	e.key(k)
	e.b = aggregate.AppendJSONString(e.b, v)
}

func (e *jsonAppender) strOmit(k, v string) {
	if v != "" {
		e.str(k, v)
	}
}

func (e *jsonAppender) strings(vs []string) {
	e.b = append(e.b, '[')
	for i, v := range vs {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = aggregate.AppendJSONString(e.b, v)
	}
	e.b = append(e.b, ']')
}

func (e *jsonAppender) time(k string, t time.Time) {
	e.key(k)
	if y := t.Year(); y < 0 || y > 9999 {
		// What time.Time.MarshalJSON refuses, so does this.
		e.err = errors.Join(e.err, errors.New("schedule: JSON: year outside of range [0,9999]"))
	}
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, time.RFC3339Nano)
	e.b = append(e.b, '"')
}

func (e *jsonAppender) timeOmit(k string, t time.Time) {
	if !t.IsZero() {
		e.time(k, t)
	}
}
