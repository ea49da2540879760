package schedule

import (
	"github.com/rewind/rewind/aggregate"
)

// StartProcedure starts a planned procedure.
type StartProcedure struct {
	ProcedureID string `json:"procedureId" format:"id" doc:"a planned procedure, not yet performed in this visit"`
	DoctorID    string `json:"doctorId" format:"id" doc:"the doctor"`
}

// Validate checks the command's own fields.
func (c StartProcedure) Validate() error {
	if err := aggregate.CheckID("procedureId", c.ProcedureID); err != nil {
		return err
	}
	return aggregate.CheckID("doctorId", c.DoctorID)
}

// ProcedureStarted records the start of a procedure.
type ProcedureStarted struct {
	ProcedureID string `json:"procedureId"`
	DoctorID    string `json:"doctorId"`
}

func startProcedure(s State, c StartProcedure, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := betweenSteps(s); err != nil {
		return nil, err
	}
	if !s.IsPlanned(c.ProcedureID) {
		return nil, aggregate.Reject(CodeProcedureNotPlanned, "procedure %s is not planned", c.ProcedureID)
	}
	if s.performed(c.ProcedureID) {
		return nil, aggregate.Reject(CodeProcedureAlreadyPerformed, "procedure %s was already performed", c.ProcedureID)
	}
	return []aggregate.Event{ProcedureStarted(c)}, nil
}

func onProcedureStarted(s State, e ProcedureStarted, env *aggregate.Envelope) State {
	s.Activity = ActivityProcedure
	s.Procedures = s.Procedures.Append(Procedure{ID: e.ProcedureID, DoctorID: e.DoctorID, StartedAt: env.Time})
	return s
}

// CompleteProcedure ends the procedure in progress.
type CompleteProcedure struct {
	ProcedureID string `json:"procedureId" format:"id" doc:"the procedure in progress"`
}

// Validate checks the command's own fields.
func (c CompleteProcedure) Validate() error { return aggregate.CheckID("procedureId", c.ProcedureID) }

// ProcedureCompleted records the end of a procedure.
type ProcedureCompleted struct {
	ProcedureID string `json:"procedureId"`
}

func completeProcedure(s State, c CompleteProcedure, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := open(s); err != nil {
		return nil, err
	}
	if p, ok := s.RunningProcedure(); !ok || p.ID != c.ProcedureID {
		return nil, aggregate.Reject(CodeProcedureNotInProgress, "procedure %s is not in progress", c.ProcedureID)
	}
	return []aggregate.Event{ProcedureCompleted(c)}, nil
}

func onProcedureCompleted(s State, _ ProcedureCompleted, env *aggregate.Envelope) State {
	s.Activity = ActivityNone
	if p, ok := s.Procedures.Last(); ok {
		p.CompletedAt = env.Time
		s.Procedures = s.Procedures.SetLast(p)
	}
	return s
}
