// Package schedule is the Schedule domain: one patient's visit to a clinic,
// from reservation through check-in, consultation, procedures, photos and
// after-care to check-out.
//
// Each command has an executor that decides (State, command) → events or a
// rejection, and each event has a handler that evolves the State. All of
// them are pure; time comes with the command ([aggregate.Meta].Time) and
// with the event ([aggregate.Envelope].Time). The package imports only the
// standard library and the kernel; it must never do I/O.
//
// Canceled, no-show and checked-out are terminal: every later command is
// rejected with [CodeClosed]. A rebooking is a new schedule.
package schedule

// Name is the aggregate type's name.
const Name = "schedule"

// LogicVersion is the version of the fold logic. Bump it whenever a
// handler changes how events fold: every processor and query then rebuilds
// its cache from schedule-events on start ("fix the bug, replay the facts").
//
// 2: ReservationCanceled's schema version 2 (who canceled) and the
// state's reservation.canceledBy.
//
// releasedBefore is 0 but in a candidate build of the replay
// walk-through (candidate_photobug_on.go).
const LogicVersion = 2 - releasedBefore
