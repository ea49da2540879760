package aggregate

import (
	"encoding/json"
	"fmt"
)

// Kind is a [Definition] with its state type erased, for infrastructure
// that must work with any aggregate type: the processor and the query side
// hold states as values of type any and never look inside them.
type Kind interface {
	Name() string
	LogicVersion() int
	// CommandTypes lists the command type names, in no particular order.
	CommandTypes() []string
	// Seed returns the state of a stream with no events.
	Seed() any
	// DecodeCommand decodes a command strictly; errors are *Rejection.
	DecodeCommand(name string, data []byte) (Command, error)
	// Execute is [Definition.Execute] on an erased state.
	Execute(state any, version uint64, name string, c Command, m Meta) (any, []Envelope, error)
	// DecodeEvent decodes an event's data, written in schema version
	// schema, upcast to the newest.
	DecodeEvent(name string, schema int, data []byte) (Event, error)
	// EventSchema is the schema version new events of a type are
	// written in.
	EventSchema(name string) int
	// EncodeEvent encodes an event's data as JSON.
	EncodeEvent(e Event) ([]byte, error)
	// Apply folds one event into the state.
	Apply(state any, env *Envelope) any
	// AppendState appends a state's encoding to dst, and DecodeState
	// reads it back: for caches and snapshots, never for Kafka records.
	// The encoding is the definition's [StateCodec], JSON by default.
	AppendState(dst []byte, state any) ([]byte, error)
	DecodeState(data []byte) (any, error)
	// Personal reports whether a command type can carry personal data;
	// Subject names whose it is ([Definition.SetSubject]).
	Personal(name string) bool
	Subject(state any, c Command) string
}

// Erase returns d as a [Kind]. It panics if [Definition.Check] fails: an
// erased definition is what the services run, built at start-up.
func (d *Definition[S]) Erase() Kind {
	if err := d.Check(); err != nil {
		panic(err)
	}
	return kind[S]{d}
}

type kind[S any] struct{ d *Definition[S] }

func (k kind[S]) Name() string      { return k.d.Name() }
func (k kind[S]) LogicVersion() int { return k.d.LogicVersion() }
func (k kind[S]) Seed() any         { return k.d.Seed() }

func (k kind[S]) CommandTypes() []string { return k.d.CommandTypes() }

func (k kind[S]) DecodeCommand(name string, data []byte) (Command, error) {
	return k.d.DecodeCommand(name, data)
}

func (k kind[S]) Execute(state any, version uint64, name string, c Command, m Meta) (any, []Envelope, error) {
	s, ok := state.(S)
	if !ok {
		s = k.d.Seed()
	}
	next, events, err := k.d.Execute(s, version, name, c, m)
	return next, events, err
}

func (k kind[S]) DecodeEvent(name string, schema int, data []byte) (Event, error) {
	return k.d.DecodeEvent(name, schema, data)
}

func (k kind[S]) EventSchema(name string) int { return k.d.EventSchema(name) }

func (k kind[S]) EncodeEvent(e Event) ([]byte, error) { return json.Marshal(e) }

func (k kind[S]) Apply(state any, env *Envelope) any {
	s, ok := state.(S)
	if !ok {
		s = k.d.Seed()
	}
	return k.d.Apply(s, env)
}

func (k kind[S]) AppendState(dst []byte, state any) ([]byte, error) {
	s, ok := state.(S)
	if !ok {
		return dst, fmt.Errorf("aggregate: %s state of type %T", k.d.name, state)
	}
	if c := k.d.codec; c != nil {
		return c.Append(dst, s), nil
	}
	b, err := json.Marshal(s)
	return append(dst, b...), err
}

func (k kind[S]) DecodeState(data []byte) (any, error) {
	if c := k.d.codec; c != nil {
		s, err := c.Decode(data)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	var s S
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return s, nil
}

func (k kind[S]) Personal(name string) bool { return k.d.Personal(name) }

func (k kind[S]) Subject(state any, c Command) string {
	s, ok := state.(S)
	if !ok {
		s = k.d.Seed()
	}
	return k.d.Subject(s, c)
}
