package aggregate

import (
	"fmt"
	"reflect"
)

// Describe documents a registered command or event for the catalogue that
// tools generate from a definition (the command reference, the OpenAPI
// and AsyncAPI schemas): what it means and, for a command, the codes its
// rules reject it with, in the order they are checked. Field-level
// documentation comes from the data type's struct tags: doc (a sentence),
// enum (comma-separated values), format ("id" for an id), and min, max,
// maxLength and maxItems. It panics for an unregistered name.
func Describe[S any](d *Definition[S], name, summary string, codes ...string) {
	if c, ok := d.commands[name]; ok {
		c.summary, c.codes = summary, codes
		d.commands[name] = c
		return
	}
	if e, ok := d.events[name]; ok {
		if len(codes) > 0 {
			panic(fmt.Sprintf("aggregate: event %q described with rejection codes", name))
		}
		e.summary = summary
		d.events[name] = e
		return
	}
	panic(fmt.Sprintf("aggregate: describing unregistered %q", name))
}

// TypeInfo is one registered command or event, for tools that document a
// definition.
type TypeInfo struct {
	Name    string
	Summary string
	// Type is the Go type of its data: for an event, of the newest
	// schema version.
	Type reflect.Type
	// Codes, for a command, are the rejection codes its rules raise.
	Codes []string
	// Schema, for an event, is its schema version; Older are the Go
	// types of the versions before it, oldest first.
	Schema int
	Older  []reflect.Type
}

// Commands lists the registered commands in registration order.
func (d *Definition[S]) Commands() []TypeInfo {
	out := make([]TypeInfo, 0, len(d.commandOrder))
	for _, name := range d.commandOrder {
		c := d.commands[name]
		out = append(out, TypeInfo{Name: name, Summary: c.summary, Type: c.typ, Codes: c.codes})
	}
	return out
}

// Events lists the registered events in registration order.
func (d *Definition[S]) Events() []TypeInfo {
	out := make([]TypeInfo, 0, len(d.eventOrder))
	for _, name := range d.eventOrder {
		e := d.events[name]
		info := TypeInfo{Name: name, Summary: e.summary, Type: e.typ, Schema: e.schema}
		for _, u := range e.up {
			info.Older = append(info.Older, u.in)
		}
		out = append(out, info)
	}
	return out
}
