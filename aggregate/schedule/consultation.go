package schedule

import (
	"github.com/rewind/rewind/aggregate"
)

// StartConsultation starts a consultation with a counselor.
type StartConsultation struct {
	CounselorID string `json:"counselorId" format:"id" doc:"the counselor"`
}

// Validate checks the command's own fields.
func (c StartConsultation) Validate() error { return aggregate.CheckID("counselorId", c.CounselorID) }

// ConsultationStarted records the start of a consultation.
type ConsultationStarted struct {
	CounselorID string `json:"counselorId"`
}

func startConsultation(s State, c StartConsultation, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := checkedIn(s); err != nil {
		return nil, err
	}
	if s.Busy() {
		return nil, aggregate.Reject(CodeBusy, "a %s is in progress", s.Activity)
	}
	return []aggregate.Event{ConsultationStarted(c)}, nil
}

func onConsultationStarted(s State, e ConsultationStarted, env *aggregate.Envelope) State {
	s.Activity = ActivityConsultation
	s.Consultations = s.Consultations.Append(Consultation{CounselorID: e.CounselorID, StartedAt: env.Time})
	return s
}

// CompleteConsultation ends the consultation, planning procedures.
type CompleteConsultation struct {
	Procedures []string `json:"procedures,omitempty" format:"id" maxItems:"64" doc:"procedures the consultation planned"`
	Notes      string   `json:"notes,omitempty" maxLength:"4000" personal:"true" doc:"the counselor's notes"`
}

// maxNotes bounds a consultation's notes, in bytes.
const maxNotes = 4000

// Validate checks the command's own fields.
func (c CompleteConsultation) Validate() error {
	if len(c.Notes) > maxNotes {
		return aggregate.Reject(aggregate.CodeInvalidField, "notes are longer than %d bytes", maxNotes)
	}
	return checkProcedures(c.Procedures)
}

// ConsultationCompleted records the end of a consultation and the
// procedures it planned.
type ConsultationCompleted struct {
	Procedures []string `json:"procedures,omitempty"`
	Notes      string   `json:"notes,omitempty" personal:"true"`
}

func completeConsultation(s State, c CompleteConsultation, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := open(s); err != nil {
		return nil, err
	}
	if s.Activity != ActivityConsultation {
		return nil, aggregate.Reject(CodeNotInConsultation, "no consultation is in progress")
	}
	return []aggregate.Event{ConsultationCompleted(c)}, nil
}

func onConsultationCompleted(s State, e ConsultationCompleted, env *aggregate.Envelope) State {
	s.Activity = ActivityNone
	if c, ok := s.Consultations.Last(); ok {
		c.CompletedAt, c.Procedures, c.Notes = env.Time, e.Procedures, e.Notes
		s.Consultations = s.Consultations.SetLast(c)
	}
	s.Planned = withPlanned(s.Planned, e.Procedures)
	return s
}
