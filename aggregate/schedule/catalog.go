package schedule

import "github.com/rewind/rewind/aggregate"

// describe documents every command and event for the catalogue generated
// from the definition (docs/commands.md, the OpenAPI and AsyncAPI
// schemas; internal/dev/catalog). A command's codes are those its own rules
// raise, in the order they are checked; every command is also rejected
// with closed on a terminal visit, and with the kernel's decoding codes.
// TestCatalogCodes checks these lists against the rules' cases.
func describe(d *aggregate.Definition[State]) {
	aggregate.Describe(d, "Reserve", "Book a slot for a visitor.", CodeAlreadyCheckedIn, CodeAlreadyReserved, CodeInvalidTimeRange)
	aggregate.Describe(d, "Reschedule", "Move the active reservation to another slot.", CodeAlreadyCheckedIn, CodeNotReserved, CodeInvalidTimeRange)
	aggregate.Describe(d, "CancelReservation", "Cancel the active reservation; the visit ends.", CodeAlreadyCheckedIn, CodeNotReserved)
	aggregate.Describe(d, "MarkNoShow", "Record that the visitor did not come; the visit ends.", CodeAlreadyCheckedIn, CodeNotReserved, CodeTooEarly)
	aggregate.Describe(d, "CheckIn", "Record the visitor's arrival: for a reservation, or a walk-in naming the visitor.",
		CodeAlreadyCheckedIn, CodeVisitorMismatch, CodeNotReserved)
	aggregate.Describe(d, "StartConsultation", "Start a consultation with a counselor.", CodeNotCheckedIn, CodeBusy)
	aggregate.Describe(d, "CompleteConsultation", "End the consultation, planning procedures.", CodeNotInConsultation)
	aggregate.Describe(d, "StartProcedure", "Start a planned procedure with a doctor.",
		CodeNotCheckedIn, CodeProcedureInProgress, CodeBusy, CodeProcedureNotPlanned, CodeProcedureAlreadyPerformed)
	aggregate.Describe(d, "CompleteProcedure", "End the procedure in progress.", CodeProcedureNotInProgress)
	aggregate.Describe(d, "TakePhotos", "Record a photo session.", CodeNotCheckedIn)
	aggregate.Describe(d, "StartAftercare", "Start after-care.", CodeNotCheckedIn, CodeProcedureInProgress, CodeBusy)
	aggregate.Describe(d, "CompleteAftercare", "End after-care.", CodeNotCheckedIn, CodeProcedureInProgress, CodeNotInAftercare)
	aggregate.Describe(d, "CheckOut", "Record the visitor's departure; the visit ends.", CodeNotCheckedIn, CodeProcedureInProgress)

	aggregate.Describe(d, "Reserved", "A slot was booked for a visitor.")
	aggregate.Describe(d, "Rescheduled", "The reservation moved to another slot.")
	aggregate.Describe(d, "ReservationCanceled", "The reservation was canceled, by the patient or the clinic.")
	aggregate.Describe(d, "NoShowMarked", "The visitor did not come.")
	aggregate.Describe(d, "CheckedIn", "The visitor arrived.")
	aggregate.Describe(d, "ConsultationStarted", "A consultation started.")
	aggregate.Describe(d, "ConsultationCompleted", "A consultation ended, planning procedures.")
	aggregate.Describe(d, "ProcedureStarted", "A procedure started.")
	aggregate.Describe(d, "ProcedureCompleted", "A procedure ended.")
	aggregate.Describe(d, "PhotosTaken", "A photo session took place.")
	aggregate.Describe(d, "AftercareStarted", "After-care started.")
	aggregate.Describe(d, "AftercareCompleted", "After-care ended.")
	aggregate.Describe(d, "CheckedOut", "The visitor left; the visit is over.")
}
