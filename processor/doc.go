// Package processor turns commands into events, exactly once. It is the
// loop of docs/processor.md: one kgo.GroupTransactSession per instance reads
// schedule-commands read-committed, runs each command through an
// aggregate's pure executor, and writes the events, one result per command
// record, the record of each stream it changed (to the compacted state
// topic) and the consumed offsets in one Kafka transaction. Only after the
// commit does it write the same stream records and the checkpoints to
// Pebble, in one batch.
//
// A newly assigned partition is restored before any of its commands is
// handled: from the state topic, one record per stream (only the tail
// when the store, or a standby copy, already mirrors it), or by folding
// schedule-events after a logic-version change.
//
// The package is written against aggregate.Kind, never against a domain's
// types: a second aggregate type needs no change here.
package processor
