// Package state is the processor's Pebble store: per stream one record
// holding its version, its encoded state and the command ids it
// remembers for deduplication; per command id the first outcome, read
// only when a duplicate arrives; and per partition a checkpoint with the
// logic version that built it. It is a disposable cache of what Kafka
// holds: everything here can be rebuilt by folding schedule-events and
// schedule-results.
//
// A stream's remembered ids live in its own record so that handling a
// command costs one read for a stream not in memory, and none for
// deciding that a command id is new.
//
// Every key starts with its partition, so one partition is wiped with a
// single range deletion. Writes are not synced: Kafka is the truth, and a
// lost tail is re-folded from the (equally lost) checkpoint.
//
// The package stores bytes; it knows nothing of aggregates, Kafka or JSON.
package state
