package aggregate

import "encoding/json"

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
	// DecodeEvent decodes an event's data.
	DecodeEvent(name string, data []byte) (Event, error)
	// EncodeEvent encodes an event's data as JSON.
	EncodeEvent(e Event) ([]byte, error)
	// Apply folds one event into the state.
	Apply(state any, env *Envelope) any
	// EncodeState and DecodeState (de)serialize a state for caches.
	EncodeState(state any) ([]byte, error)
	DecodeState(data []byte) (any, error)
}

// Erase returns d as a [Kind].
func (d *Definition[S]) Erase() Kind { return kind[S]{d} }

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

func (k kind[S]) DecodeEvent(name string, data []byte) (Event, error) {
	return k.d.DecodeEvent(name, data)
}

func (k kind[S]) EncodeEvent(e Event) ([]byte, error) { return json.Marshal(e) }

func (k kind[S]) Apply(state any, env *Envelope) any {
	s, ok := state.(S)
	if !ok {
		s = k.d.Seed()
	}
	return k.d.Apply(s, env)
}

func (k kind[S]) EncodeState(state any) ([]byte, error) { return json.Marshal(state) }

func (k kind[S]) DecodeState(data []byte) (any, error) {
	var s S
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return s, nil
}
