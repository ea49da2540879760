// Package topics is Rewind's topic contract in one place: the names,
// configs and partition count of schedule-commands, schedule-events,
// schedule-results and the processor's state topic schedule-state; their
// keys; the CloudEvents headers of their records; and [Ensure], which
// creates missing topics and verifies existing ones.
//
// Everything that reads or writes a Rewind record goes through this
// package, so the contract of docs/topics.md is encoded once. It imports
// Kafka client packages and the aggregate kernel, never Pebble.
package topics
