//go:build rewind_candidate_photobug

package schedule

// releasedBefore and photoCountFactor are 1 and 10 in the build with the
// tag rewind_candidate_photobug: the "released" build of the replay
// walk-through (make replay-demo and its end-to-end test,
// internal/dev/candidate), one logic version before this code, whose
// handler multiplies photo counts by ten. This code is its fix. Never in
// a release.
const (
	releasedBefore   = 1
	photoCountFactor = 10
)
