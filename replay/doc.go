// Package replay previews a logic change against the whole history before
// it ships: it folds every stream of schedule-events with the handlers
// (and upcasters) of the build it is compiled into, and compares each
// result with the state the deployed processors hold for that stream on
// schedule-state. With Config.Commands it also decides again every
// command still on schedule-commands, against the state its stream had
// just before it, and lists the commands whose outcome would differ.
//
// It reads with read_committed and no consumer group, and writes nothing
// to Kafka: it can run against production beside the live processors.
// cmd/replay is its command line; docs/logic-changes.md tells the story.
package replay
