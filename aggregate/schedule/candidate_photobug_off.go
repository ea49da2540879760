//go:build !rewind_candidate_photobug

package schedule

// releasedBefore and photoCountFactor are 0 and 1 in every build but one
// candidate of the replay walk-through (candidate_photobug_on.go).
const (
	releasedBefore   = 0
	photoCountFactor = 1
)
