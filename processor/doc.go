// Package processor turns commands into events, exactly once. It is the
// loop of docs/processor.md: one kgo.GroupTransactSession per instance reads
// schedule-commands read-committed, runs each command through an
// aggregate's pure executor, and writes the events, one result per command
// record and the consumed offsets in one Kafka transaction. Only after the
// commit does it write the new states, dedup entries and checkpoints to
// Pebble, in one batch. A newly assigned partition is restored from
// schedule-events and schedule-results before any of its commands is
// handled.
//
// The package is written against aggregate.Kind, never against a domain's
// types: a second aggregate type needs no change here.
package processor
