// Package aggregate is Rewind's small, generic event-sourcing kernel.
//
// An aggregate type is described by a [Definition]: a seed state, one
// executor per command type that decides (state, command) → events or a
// [Rejection], and one handler per event type that evolves (state, event) →
// state. Executors and handlers are pure: they read no clock and do no I/O;
// time arrives with the command in [Meta].
//
// Infrastructure (the processor, the query side) works against the
// type-erased [Kind] interface, so a second aggregate type can be added
// beside the Schedule domain without changing anything built on the kernel.
//
// This package imports only the standard library, and a test proves it. It
// must never import Kafka, Pebble or anything that does I/O.
package aggregate
