// Package schedule is the Schedule domain: one patient's visit to a clinic,
// from reservation through check-in, consultation, procedures, photos and
// after-care to check-out.
//
// Each command has an executor that decides (State, command) → events or a
// rejection, and each event has a handler that evolves the State. All of
// them are pure; time comes with the command ([aggregate.Meta].Time) and
// with the event ([aggregate.Envelope].Time). The package imports only the
// standard library and the kernel; it must never do I/O.
//
// Canceled, no-show and checked-out are terminal: every later command is
// rejected with [CodeClosed]. A rebooking is a new schedule.
package schedule

import "github.com/rewind/rewind/aggregate"

// Name is the aggregate type's name.
const Name = "schedule"

// LogicVersion is the version of the fold logic. Bump it whenever a
// handler changes how events fold: every processor and query then rebuilds
// its cache from schedule-events on start ("fix the bug, replay the facts").
//
// 2: ReservationCanceled's schema version 2 (who canceled) and the
// state's reservation.canceledBy.
const LogicVersion = 2

// Definition is the Schedule aggregate: all its commands and events.
var Definition = define()

// Kind is [Definition] with its state type erased, for infrastructure.
var Kind = Definition.Erase()

func define() *aggregate.Definition[State] {
	d := aggregate.NewDefinition(Name, LogicVersion, func() State { return State{Status: StatusNew} })
	d.SetStateCodec(stateCodec)

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
