package schedule

import (
	"fmt"

	"github.com/rewind/rewind/aggregate"
)

// stateFormat is the first byte of a binary State. Change it with the
// layout below, and keep reading the previous one: the replay preview
// decodes the states the deployed build wrote with the candidate's codec.
// 2: the reservation's canceledBy after its canceledAt.
// 3: the visitor's name and phone after the visitor id, and each
// consultation's notes after its procedures (sealed values, see
// docs/privacy.md).
const stateFormat = 3

// stateCodec is the binary form of a State for the processor's store and
// the read model's snapshots: about a third of the JSON's size, and
// decoded without reflection. Records on Kafka stay JSON.
var stateCodec = aggregate.StateCodec[State]{Append: appendState, Decode: decodeState}

func appendState(dst []byte, s State) []byte {
	w := aggregate.Writer{B: append(dst, stateFormat)}
	w.String(string(s.Status))
	w.String(s.VisitorID)
	w.String(s.Visitor.Name)
	w.String(s.Visitor.Phone)
	r := s.Reservation
	w.Time(r.Start)
	w.Time(r.End)
	w.String(r.Channel)
	w.Time(r.ReservedAt)
	w.Time(r.RescheduledAt)
	w.Int(int64(r.Reschedules))
	w.Time(r.CanceledAt)
	w.String(r.CanceledBy)
	w.String(r.CancelReason)
	w.Time(r.NoShowAt)
	w.Time(s.CheckIn.At)
	w.String(s.CheckIn.Channel)
	w.Bool(s.CheckIn.WalkIn)
	w.String(string(s.Activity))
	w.Strings(s.Planned)
	w.Uint(uint64(s.Consultations.Len()))
	for _, c := range s.Consultations.All() {
		w.String(c.CounselorID)
		w.Time(c.StartedAt)
		w.Time(c.CompletedAt)
		w.Strings(c.Procedures)
		w.String(c.Notes)
	}
	w.Uint(uint64(s.Procedures.Len()))
	for _, p := range s.Procedures.All() {
		w.String(p.ID)
		w.String(p.DoctorID)
		w.Time(p.StartedAt)
		w.Time(p.CompletedAt)
	}
	w.Uint(uint64(s.Photos.Len()))
	for _, p := range s.Photos.All() {
		w.String(p.Kind)
		w.Int(int64(p.Count))
		w.Time(p.At)
	}
	w.Time(s.Aftercare.StartedAt)
	w.Time(s.Aftercare.CompletedAt)
	w.Time(s.CheckedOutAt)
	return w.B
}

func decodeState(data []byte) (State, error) {
	var s State
	if len(data) == 0 || data[0] < 1 || data[0] > stateFormat {
		return s, fmt.Errorf("schedule: state is not in binary format 1 to %d", stateFormat)
	}
	format := data[0]
	r := aggregate.NewReader(data[1:])
	s.Status = Status(r.String())
	s.VisitorID = r.String()
	if format >= 3 {
		s.Visitor = Visitor{Name: r.String(), Phone: r.String()}
	}
	s.Reservation = Reservation{
		Start: r.Time(), End: r.Time(), Channel: r.String(), ReservedAt: r.Time(), RescheduledAt: r.Time(),
		Reschedules: int(r.Int()), CanceledAt: r.Time(),
	}
	if format >= 2 {
		s.Reservation.CanceledBy = r.String()
	}
	s.Reservation.CancelReason, s.Reservation.NoShowAt = r.String(), r.Time()
	s.CheckIn = CheckInInfo{At: r.Time(), Channel: r.String(), WalkIn: r.Bool()}
	s.Activity = Activity(r.String())
	s.Planned = r.Strings()
	s.Consultations = readList(r, func() Consultation {
		c := Consultation{CounselorID: r.String(), StartedAt: r.Time(), CompletedAt: r.Time(), Procedures: r.Strings()}
		if format >= 3 {
			c.Notes = r.String()
		}
		return c
	})
	s.Procedures = readList(r, func() Procedure {
		return Procedure{ID: r.String(), DoctorID: r.String(), StartedAt: r.Time(), CompletedAt: r.Time()}
	})
	s.Photos = readList(r, func() Photos {
		return Photos{Kind: r.String(), Count: int(r.Int()), At: r.Time()}
	})
	s.Aftercare = Aftercare{StartedAt: r.Time(), CompletedAt: r.Time()}
	s.CheckedOutAt = r.Time()
	if r.Err() == nil && len(r.Rest()) > 0 {
		return State{}, fmt.Errorf("schedule: %d bytes after the state", len(r.Rest()))
	}
	if r.Err() != nil {
		return State{}, fmt.Errorf("schedule: decode state: %w", r.Err())
	}
	return s, nil
}

// readList reads a counted list; each element takes at least one byte.
func readList[T any](r *aggregate.Reader, read func() T) aggregate.List[T] {
	n := r.Len()
	if n == 0 {
		return aggregate.List[T]{}
	}
	xs := make([]T, n)
	for i := range xs {
		xs[i] = read()
	}
	return aggregate.ListOf(xs...)
}
