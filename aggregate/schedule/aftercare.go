package schedule

import "github.com/rewind/rewind/aggregate"

// StartAftercare starts after-care.
type StartAftercare struct{}

// AftercareStarted records the start of after-care.
type AftercareStarted struct{}

func startAftercare(s State, _ StartAftercare, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := betweenSteps(s); err != nil {
		return nil, err
	}
	return []aggregate.Event{AftercareStarted{}}, nil
}

func onAftercareStarted(s State, _ AftercareStarted, env *aggregate.Envelope) State {
	s.Activity = ActivityAftercare
	s.Aftercare = Aftercare{StartedAt: env.Time}
	return s
}

// CompleteAftercare ends after-care.
type CompleteAftercare struct{}

// AftercareCompleted records the end of after-care.
type AftercareCompleted struct{}

func completeAftercare(s State, _ CompleteAftercare, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := checkedIn(s); err != nil {
		return nil, err
	}
	if err := noProcedureRunning(s); err != nil {
		return nil, err
	}
	if s.Activity != ActivityAftercare {
		return nil, aggregate.Reject(CodeNotInAftercare, "after-care is not in progress")
	}
	return []aggregate.Event{AftercareCompleted{}}, nil
}

func onAftercareCompleted(s State, _ AftercareCompleted, env *aggregate.Envelope) State {
	s.Activity = ActivityNone
	s.Aftercare.CompletedAt = env.Time
	return s
}
