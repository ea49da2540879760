// Package access is Rewind's access log: one record for every read of
// patient data and every action a person takes through the services,
// written to the topic schedule-access before the answer leaves
// (docs/audit.md).
//
// Its parts:
//
//   - Record: who (tenant, subject, token id), when, from where, the
//     action, whose data (schedule, visitor, or the query and how many
//     rows it returned) and why (the purpose a client gave).
//   - Logger: a service's writer. Log returns only once Kafka has
//     acknowledged the record, so a service that answers after Log has
//     logged the read for good; when records cannot reach Kafka, Log
//     fails fast with ErrUnavailable until they can again (fail closed).
//   - The chain: every writer links its records by hash (Record.Prev),
//     and Checker finds where a chain was altered or cut.
//
// A record names ids and counts, never a personal value. It imports no
// other Rewind package but topics.
package access
