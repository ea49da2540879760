package schedule

// Rejection codes of the Schedule domain. They are stable: clients match on
// them. The kernel adds malformed, unknown_type, unknown_field,
// invalid_field, missing_field, invalid_id, version_conflict and
// executor_panic.
const (
	CodeAlreadyReserved           = "already_reserved"
	CodeAlreadyCheckedIn          = "already_checked_in"
	CodeInvalidTimeRange          = "invalid_time_range"
	CodeNotReserved               = "not_reserved"
	CodeTooEarly                  = "too_early"
	CodeNotCheckedIn              = "not_checked_in"
	CodeBusy                      = "busy"
	CodeClosed                    = "closed"
	CodeNotInConsultation         = "not_in_consultation"
	CodeProcedureInProgress       = "procedure_in_progress"
	CodeProcedureNotPlanned       = "procedure_not_planned"
	CodeProcedureNotInProgress    = "procedure_not_in_progress"
	CodeProcedureAlreadyPerformed = "procedure_already_performed"
	CodeNotInAftercare            = "not_in_aftercare"
	CodeVisitorMismatch           = "visitor_mismatch"
)
