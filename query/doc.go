// Package query is Rewind's read side, the Schedule read model: a
// downstream consumer of schedule-events (read_committed, every
// partition, no consumer group) that keeps its own Pebble read model and
// serves it over HTTP. It is not generic: it folds schedule.Definition
// and indexes fields of schedule.State (status, slot, visitor); a second
// aggregate type would get a read model of its own. What belongs to the
// aggregate stays on its side: snapshots are in the aggregate's state
// codec, events are decoded (and upcast) by its definition.
//
// Events are folded with the same pure handlers as the processor
// (aggregate/schedule). For each stream the model keeps every event (the
// audit log), a state snapshot every few events, an index from instants to
// versions, and the current state; across streams it keeps a secondary
// index of reservations by start time and one by visitor. So a state at
// any version or instant is one snapshot read plus a bounded fold, and a
// day's schedule is a short range scan, never a scan of every stream.
//
// The model is a cache: everything in it can be rebuilt from the topic.
// Each batch of events lands in one Pebble batch together with the
// partitions' checkpoints, so a restart resumes where it stopped; a model
// built by another logic version is wiped and rebuilt from offset 0, which
// is how "fix the handler, replay the facts" reaches the read side.
package query
