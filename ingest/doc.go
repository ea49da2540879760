// Package ingest is Rewind's front door for commands: an HTTP API that
// turns a request into a record on schedule-commands and answers with the
// command's real outcome, read from schedule-results. Clients get a
// synchronous API over an asynchronous system.
//
// It works against the topic contract alone (package topics), never
// against the processor. It never answers 2xx for a command Kafka does
// not hold.
package ingest
