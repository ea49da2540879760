package schedule

import (
	"time"

	"github.com/rewind/rewind/aggregate"
)

// maxSlot is the longest reservation allowed.
const maxSlot = 24 * time.Hour

// open rejects every command on a terminal visit.
func open(s State) error {
	if s.Terminal() {
		return aggregate.Reject(CodeClosed, "the visit is %s; a rebooking is a new schedule", s.Status)
	}
	return nil
}

// checkedIn rejects commands that need the visitor in the clinic.
func checkedIn(s State) error {
	if err := open(s); err != nil {
		return err
	}
	if s.Status != StatusCheckedIn {
		return aggregate.Reject(CodeNotCheckedIn, "the visitor has not checked in")
	}
	return nil
}

// beforeCheckIn rejects reservation changes once the visitor is in, or
// when there is no active reservation.
func beforeCheckIn(s State) error {
	if err := open(s); err != nil {
		return err
	}
	if s.Status == StatusCheckedIn {
		return aggregate.Reject(CodeAlreadyCheckedIn, "the visitor has already checked in")
	}
	if s.Status != StatusReserved {
		return aggregate.Reject(CodeNotReserved, "there is no active reservation")
	}
	return nil
}

// noProcedureRunning rejects when a procedure is in progress.
func noProcedureRunning(s State) error {
	if p, ok := s.RunningProcedure(); ok {
		return aggregate.Reject(CodeProcedureInProgress, "procedure %s is in progress", p.ID)
	}
	return nil
}

// betweenSteps rejects starting a procedure or after-care unless the
// visitor is in and nothing is in progress: no procedure, no consultation
// and no after-care.
func betweenSteps(s State) error {
	if err := checkedIn(s); err != nil {
		return err
	}
	if err := noProcedureRunning(s); err != nil {
		return err
	}
	if s.Busy() {
		return aggregate.Reject(CodeBusy, "a %s is in progress", s.Activity)
	}
	return nil
}

// checkTimeRange validates a slot: both ends set, end after start, at
// most 24 hours.
func checkTimeRange(start, end time.Time) error {
	if start.IsZero() {
		return aggregate.Reject(aggregate.CodeMissingField, "start is required")
	}
	if end.IsZero() {
		return aggregate.Reject(aggregate.CodeMissingField, "end is required")
	}
	if !end.After(start) {
		return aggregate.Reject(CodeInvalidTimeRange, "end must be after start")
	}
	if end.Sub(start) > maxSlot {
		return aggregate.Reject(CodeInvalidTimeRange, "a reservation lasts at most %s", maxSlot)
	}
	return nil
}

// checkIDs validates a list of ids.
func checkIDs(field string, ids []string) error {
	for _, id := range ids {
		if err := aggregate.CheckID(field, id); err != nil {
			return err
		}
	}
	return nil
}

// maxProcedures bounds lists in commands, so a hostile command cannot grow
// a state without limit.
const maxProcedures = 64

func checkProcedures(ids []string) error {
	if len(ids) > maxProcedures {
		return aggregate.Reject(aggregate.CodeInvalidField, "at most %d procedures", maxProcedures)
	}
	return checkIDs("procedures[]", ids)
}
