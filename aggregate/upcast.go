package aggregate

import (
	"fmt"
	"reflect"
)

// An event type's data has a schema version: 1 when it is registered with
// [OnEvent], one more for each [Upcast]. New events are always written in
// the newest version; events written earlier stay in the log as they are
// (the log is never rewritten), and every fold turns them into the newest
// shape on the way in, one version at a time.

// upcaster turns data of one schema version into the next one.
type upcaster struct {
	in, out reflect.Type
	decode  func(data []byte) (any, error) // data of version from, as in
	step    func(any) any                  // in → out
}

// Upcast registers f, which turns the data of the event name written in
// schema version from (decoded into Old) into version from+1 (New). The
// chain starts at version 1 and is registered in order: the New of one
// step is the Old of the next, and the New of the last is the type
// registered with [OnEvent]. Registering one makes the event's schema
// version from+1.
//
// It is Marten's Upcast<Old, New> and one link of Axon's upcaster chain:
// the old shape keeps a Go type of its own (PhotosTakenV1), so the
// handlers only ever see the newest one. f must be pure, like a handler.
// Upcast panics on a programming error: an unknown event, a version out of
// order, or an Old that is not the previous step's New. [Definition.Check]
// finds a chain that does not end at the event's type.
func Upcast[S, Old, New any](d *Definition[S], name string, from int, f func(Old) New) {
	entry, ok := d.events[name]
	if !ok {
		panic(fmt.Sprintf("aggregate: upcaster for unregistered event %q", name))
	}
	if from != entry.schema {
		panic(fmt.Sprintf("aggregate: upcaster of %q from version %d; the next one is from %d", name, from, entry.schema))
	}
	in, out := reflect.TypeFor[Old](), reflect.TypeFor[New]()
	if n := len(entry.up); n > 0 && entry.up[n-1].out != in {
		panic(fmt.Sprintf("aggregate: upcaster of %q from version %d takes %v, but version %d upcasts to %v", name, from, in, from-1, entry.up[n-1].out))
	}
	entry.up = append(entry.up, upcaster{
		in: in, out: out,
		decode: func(data []byte) (any, error) {
			var o Old
			if err := DecodeLenient(data, &o); err != nil {
				return nil, err
			}
			return o, nil
		},
		step: func(v any) any { return f(v.(Old)) },
	})
	entry.schema++
	d.events[name] = entry
}

// Check reports a definition that cannot work: an event whose upcasters
// do not end at its registered type. [Definition.Erase] panics on it, so
// a definition built at start-up is checked at start-up.
func (d *Definition[S]) Check() error {
	for name, e := range d.events {
		if n := len(e.up); n > 0 && e.up[n-1].out != e.typ {
			return fmt.Errorf("aggregate: the upcasters of %q end at %v, not at its type %v", name, e.up[n-1].out, e.typ)
		}
	}
	return nil
}

// EventSchema is the schema version new events of type name are written
// in: 1, or one more than the last upcaster's. 0 for an unknown type.
func (d *Definition[S]) EventSchema(name string) int {
	return d.events[name].schema
}

// upcast decodes data written in schema version schema (below the
// newest) and upcasts it step by step to the newest.
func (e *eventEntry[S]) upcast(schema int, data []byte) (Event, error) {
	v, err := e.up[schema-1].decode(data)
	if err != nil {
		return nil, err
	}
	for _, u := range e.up[schema-1:] {
		v = u.step(v)
	}
	return v, nil
}
