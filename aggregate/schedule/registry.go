package schedule

import "github.com/rewind/rewind/aggregate"

// Definition is the Schedule aggregate: all its commands and events.
var Definition = define()

// Kind is [Definition] with its state type erased, for infrastructure.
var Kind = Definition.Erase()

func define() *aggregate.Definition[State] {
	d := aggregate.NewDefinition(Name, LogicVersion, func() State { return State{Status: StatusNew} })
	d.SetStateCodec(stateCodec)
	d.SetSubject(subject)

	aggregate.HandleCommand(d, "Reserve", reserve)
	aggregate.HandleCommand(d, "Reschedule", reschedule)
	aggregate.HandleCommand(d, "CancelReservation", cancelReservation)
	aggregate.HandleCommand(d, "MarkNoShow", markNoShow)
	aggregate.HandleCommand(d, "CheckIn", checkIn)
	aggregate.HandleCommand(d, "StartConsultation", startConsultation)
	aggregate.HandleCommand(d, "CompleteConsultation", completeConsultation)
	aggregate.HandleCommand(d, "StartProcedure", startProcedure)
	aggregate.HandleCommand(d, "CompleteProcedure", completeProcedure)
	aggregate.HandleCommand(d, "TakePhotos", takePhotos)
	aggregate.HandleCommand(d, "StartAftercare", startAftercare)
	aggregate.HandleCommand(d, "CompleteAftercare", completeAftercare)
	aggregate.HandleCommand(d, "CheckOut", checkOut)

	aggregate.OnEvent(d, "Reserved", onReserved)
	aggregate.OnEvent(d, "Rescheduled", onRescheduled)
	aggregate.OnEvent(d, "ReservationCanceled", onReservationCanceled)
	aggregate.OnEvent(d, "NoShowMarked", onNoShowMarked)
	aggregate.OnEvent(d, "CheckedIn", onCheckedIn)
	aggregate.OnEvent(d, "ConsultationStarted", onConsultationStarted)
	aggregate.OnEvent(d, "ConsultationCompleted", onConsultationCompleted)
	aggregate.OnEvent(d, "ProcedureStarted", onProcedureStarted)
	aggregate.OnEvent(d, "ProcedureCompleted", onProcedureCompleted)
	aggregate.OnEvent(d, "PhotosTaken", onPhotosTaken)
	aggregate.OnEvent(d, "AftercareStarted", onAftercareStarted)
	aggregate.OnEvent(d, "AftercareCompleted", onAftercareCompleted)
	aggregate.OnEvent(d, "CheckedOut", onCheckedOut)

	aggregate.Upcast(d, "ReservationCanceled", 1, upcastReservationCanceled)
	describe(d)
	return d
}

// subject is whose personal data a command carries: the schedule's
// visitor, or, before it has one, the visitor the command names.
func subject(s State, c aggregate.Command) string {
	if s.VisitorID != "" {
		return s.VisitorID
	}
	switch c := c.(type) {
	case Reserve:
		return c.VisitorID
	case CheckIn:
		return c.VisitorID
	}
	return ""
}
