//go:build rewind_candidate_wrongupcast

package schedule

// canceledBeforeAsked guesses the patient in the build with the tag
// rewind_candidate_wrongupcast: the wrong upcaster of the replay
// walk-through (make replay-demo and its end-to-end test,
// internal/dev/candidate), which the preview catches. Never in a release.
const canceledBeforeAsked = CanceledByPatient
