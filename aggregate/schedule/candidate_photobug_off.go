//go:build !rewind_candidate_photobug

package schedule

// releasedBefore is 0 in every build but one candidate of the replay
// walk-through (candidate_photobug_on.go).
const releasedBefore = 0
