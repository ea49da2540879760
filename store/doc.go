// Package store is the processor's Pebble store: per stream one record
// holding the logic version that computed it, its version, its encoded
// state and the command ids it remembers for deduplication with their
// first outcomes; and per partition a checkpoint. It is a disposable
// cache of what Kafka holds: everything here can be rebuilt from the
// state topic, or by folding schedule-events and schedule-results.
//
// A stream's remembered ids live in its own record so that handling a
// command costs one read for a stream not in memory, and none for
// deciding that a command id is new. The record's bytes are also the
// stream's record on the state topic, so a restore copies them as they
// come.
//
// Every key starts with its partition, so one partition is wiped with a
// single range deletion. Writes are not synced: Kafka is the truth, and a
// lost tail is read again from the (equally lost) checkpoint.
//
// The package stores bytes; it knows nothing of aggregates, Kafka or JSON.
package store
