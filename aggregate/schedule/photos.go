package schedule

import (
	"github.com/rewind/rewind/aggregate"
)

// The photo kinds.
const (
	PhotosBefore = "before"
	PhotosAfter  = "after"
)

// maxPhotos bounds one photo session.
const maxPhotos = 1000

// TakePhotos records a photo session.
type TakePhotos struct {
	Kind  string `json:"kind" enum:"before,after" doc:"before or after the treatment"`
	Count int    `json:"count" min:"1" max:"1000" doc:"photos taken"`
}

// Validate checks the command's own fields.
func (c TakePhotos) Validate() error {
	switch c.Kind {
	case PhotosBefore, PhotosAfter:
	case "":
		return aggregate.Reject(aggregate.CodeMissingField, "kind is required")
	default:
		return aggregate.Reject(aggregate.CodeInvalidField, "kind must be before or after")
	}
	if c.Count < 1 || c.Count > maxPhotos {
		return aggregate.Reject(aggregate.CodeInvalidField, "count must be between 1 and %d", maxPhotos)
	}
	return nil
}

// PhotosTaken records a photo session.
type PhotosTaken struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
}

func takePhotos(s State, c TakePhotos, _ aggregate.Meta) ([]aggregate.Event, error) {
	if err := checkedIn(s); err != nil {
		return nil, err
	}
	return []aggregate.Event{PhotosTaken(c)}, nil
}

func onPhotosTaken(s State, e PhotosTaken, env *aggregate.Envelope) State {
	// photoCountFactor is 1 but in the walk-through's released build,
	// whose bug it is (candidate_photobug_on.go).
	s.Photos = s.Photos.Append(Photos{Kind: e.Kind, Count: e.Count * photoCountFactor, At: env.Time})
	return s
}
