//go:build !rewind_candidate_wrongupcast

package schedule

// canceledBeforeAsked is who canceled, for a cancellation recorded before
// the clinic asked: nobody said, so unrecorded (candidate_upcast_on.go
// has the walk-through's wrong guess).
const canceledBeforeAsked = CanceledByUnrecorded
