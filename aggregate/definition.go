package aggregate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Definition describes one aggregate type with state S: its name, logic
// version, seed, command executors and event handlers. Build it once at
// start-up with [NewDefinition], [HandleCommand] and [OnEvent]; after that
// it is read-only and safe for concurrent use.
type Definition[S any] struct {
	name         string
	logicVersion int
	seed         func() S
	commands     map[string]commandEntry[S]
	events       map[string]eventEntry[S]
	commandOrder []string // registration order, for catalogues
	eventOrder   []string
	eventNames   map[reflect.Type]string
	codec        *StateCodec[S] // nil: JSON
	subject      func(s S, c Command) string
}

// Executor decides what a command means for the current state: the events
// to record, or a rejection. It must be pure: no clock (use m.Time), no I/O,
// and it must not modify s.
type Executor[S, C any] func(s S, c C, m Meta) ([]Event, error)

// Handler evolves the state by one event. It must be pure, must not fail,
// and must not modify memory that s shares (copy slices and maps before
// changing them), because earlier states stay in use for time travel.
type Handler[S, E any] func(s S, e E, env *Envelope) S

type commandEntry[S any] struct {
	typ     reflect.Type
	decode  func(data []byte) (Command, error)
	execute func(s S, c Command, m Meta) ([]Event, error)
	summary string   // see Describe
	codes   []string // see Describe
}

type eventEntry[S any] struct {
	typ    reflect.Type
	decode func(data []byte) (Event, error) // data of the newest version
	apply  func(s S, e Event, env *Envelope) S
	// schema is the version new events are written in; up[i] upcasts
	// version i+1 to i+2.
	schema  int
	up      []upcaster
	summary string // see Describe
}

// NewDefinition starts the definition of an aggregate type. name names the
// type (for logs); logicVersion must be bumped whenever a handler changes
// how events fold, so that caches built by older code are rebuilt. seed
// returns the state of a stream that has no events yet.
func NewDefinition[S any](name string, logicVersion int, seed func() S) *Definition[S] {
	return &Definition[S]{
		name:         name,
		logicVersion: logicVersion,
		seed:         seed,
		commands:     map[string]commandEntry[S]{},
		events:       map[string]eventEntry[S]{},
		eventNames:   map[reflect.Type]string{},
	}
}

// HandleCommand registers the executor for the command type C under name.
// Commands are decoded strictly (see [DecodeStrict]); if *C or C has a
// method Validate() error, it runs after decoding. It panics if name is
// registered twice: that is a programming error found at start-up.
func HandleCommand[S, C any](d *Definition[S], name string, exec Executor[S, C]) {
	if _, dup := d.commands[name]; dup {
		panic(fmt.Sprintf("aggregate: command %q registered twice", name))
	}
	d.commandOrder = append(d.commandOrder, name)
	d.commands[name] = commandEntry[S]{
		typ: reflect.TypeFor[C](),
		decode: func(data []byte) (Command, error) {
			var c C
			if err := DecodeStrict(data, &c); err != nil {
				return nil, err
			}
			if err := validate(&c); err != nil {
				return nil, err
			}
			return c, nil
		},
		execute: func(s S, c Command, m Meta) ([]Event, error) {
			typed, ok := c.(C)
			if !ok {
				return nil, Reject(CodeInvalidField, "command %q has data of type %T", name, c)
			}
			return exec(s, typed, m)
		},
	}
}

// OnEvent registers the handler for the event type E under name. Every
// event an executor returns must have a registered type. It panics if the
// name or the Go type is registered twice.
func OnEvent[S, E any](d *Definition[S], name string, h Handler[S, E]) {
	t := reflect.TypeFor[E]()
	if _, dup := d.events[name]; dup {
		panic(fmt.Sprintf("aggregate: event %q registered twice", name))
	}
	if other, dup := d.eventNames[t]; dup {
		panic(fmt.Sprintf("aggregate: Go type %v registered as %q and %q", t, other, name))
	}
	d.eventNames[t] = name
	d.eventOrder = append(d.eventOrder, name)
	d.events[name] = eventEntry[S]{
		typ: t, schema: 1,
		decode: func(data []byte) (Event, error) {
			var e E
			if err := DecodeLenient(data, &e); err != nil {
				return nil, err
			}
			return e, nil
		},
		apply: func(s S, e Event, env *Envelope) S {
			typed, ok := e.(E)
			if !ok {
				return s
			}
			return h(s, typed, env)
		},
	}
}

// validate runs Validate when the command has one. c is a pointer, whose
// method set includes the value's methods.
func validate(c any) error {
	if v, ok := c.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// Name is the aggregate type's name.
func (d *Definition[S]) Name() string { return d.name }

// LogicVersion is the version of the fold logic.
func (d *Definition[S]) LogicVersion() int { return d.logicVersion }

// Seed returns the state of a stream with no events.
func (d *Definition[S]) Seed() S { return d.seed() }

// CommandTypes lists the registered command names, in no particular order.
func (d *Definition[S]) CommandTypes() []string { return keys(d.commands) }

// EventTypes lists the registered event names, in no particular order.
func (d *Definition[S]) EventTypes() []string { return keys(d.events) }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// DecodeCommand decodes the data of a command of type name. Bad input gives
// a [*Rejection]: unknown_type, malformed, unknown_field, invalid_field,
// missing_field or a domain code from Validate. It never panics.
func (d *Definition[S]) DecodeCommand(name string, data []byte) (c Command, err error) {
	entry, ok := d.commands[name]
	if !ok {
		known := d.CommandTypes()
		slices.Sort(known)
		return nil, Reject(CodeUnknownType, "unknown command type %q; the command types are %s", truncate(name), strings.Join(known, ", "))
	}
	defer recoverInto(&err, "decoding", name)
	return entry.decode(data)
}

// DecodeEvent decodes the data of an event of type name written in schema
// version schema (0 counts as 1), upcasting it to the newest version.
// Unknown fields are ignored, and data of a version newer than this code
// knows is read as the newest it knows, so older code can read events
// written by newer code.
func (d *Definition[S]) DecodeEvent(name string, schema int, data []byte) (e Event, err error) {
	entry, ok := d.events[name]
	if !ok {
		return nil, Reject(CodeUnknownType, "unknown event type %q", truncate(name))
	}
	defer recoverInto(&err, "decoding", name)
	if schema < 1 {
		schema = 1
	}
	if schema >= entry.schema {
		return entry.decode(data)
	}
	return entry.upcast(schema, data)
}

// EventType returns the registered name of the event e.
func (d *Definition[S]) EventType(e Event) (string, bool) {
	name, ok := d.eventNames[reflect.TypeOf(e)]
	return name, ok
}

// Execute runs the command against the state at version, checks the
// expected version, and folds the new events into the state. It returns
// the new state and the events as envelopes with versions version+1… and
// metadata from m. A panic in the executor or a handler becomes a
// rejection with code [CodeExecutorPanic]; the state s is never modified.
func (d *Definition[S]) Execute(s S, version uint64, name string, c Command, m Meta) (next S, events []Envelope, err error) {
	entry, ok := d.commands[name]
	if !ok {
		return s, nil, Reject(CodeUnknownType, "unknown command type %q", truncate(name))
	}
	if m.HasExpectedVersion && m.ExpectedVersion != version {
		return s, nil, Reject(CodeVersionConflict, "expected version %d, stream is at %d", m.ExpectedVersion, version)
	}
	defer func() {
		if err != nil {
			next, events = s, nil
		}
	}()
	defer recoverInto(&err, "executing", name)
	data, err := entry.execute(s, c, m)
	if err != nil {
		return s, nil, err
	}
	events = make([]Envelope, 0, len(data))
	next = s
	for i, e := range data {
		typ, ok := d.EventType(e)
		if !ok {
			return s, nil, Reject(CodeUnknownType, "executor for %q returned unregistered event %T", name, e)
		}
		entry := d.events[typ]
		// The handler gets the envelope in place: a pointer to a local
		// would move it to the heap, once per event.
		events = append(events, Envelope{
			Type: typ, Schema: entry.schema, Version: version + uint64(i) + 1, Time: m.Time,
			Tenant: m.Tenant, Stream: m.Stream, Initiator: m.Initiator,
			ProcessID: m.ProcessID, PredecessorID: m.ID, Data: e,
		})
		next = entry.apply(next, e, &events[len(events)-1])
	}
	return next, events, nil
}

// Apply folds one event into the state. Events of a type this definition
// does not know leave the state as it is: handlers never fail.
func (d *Definition[S]) Apply(s S, env *Envelope) S {
	entry, ok := d.events[env.Type]
	if !ok {
		return s
	}
	return entry.apply(s, env.Data, env)
}

// Rehydrate folds a whole stream, given in version order, from the seed.
// It returns the state and the version of the last event folded.
func (d *Definition[S]) Rehydrate(events []Envelope) (S, uint64) {
	return d.rehydrate(events, func(*Envelope) bool { return true })
}

// RehydrateVersion folds the events with versions up to and including v:
// the state as it was at version v.
func (d *Definition[S]) RehydrateVersion(events []Envelope, v uint64) (S, uint64) {
	return d.rehydrate(events, func(e *Envelope) bool { return e.Version <= v })
}

// RehydrateAt folds the events recorded at or before t: the state as it
// was at instant t.
func (d *Definition[S]) RehydrateAt(events []Envelope, t time.Time) (S, uint64) {
	return d.rehydrate(events, func(e *Envelope) bool { return !e.Time.After(t) })
}

func (d *Definition[S]) rehydrate(events []Envelope, keep func(*Envelope) bool) (S, uint64) {
	s, v := d.seed(), uint64(0)
	for i := range events {
		if !keep(&events[i]) {
			break
		}
		s = d.Apply(s, &events[i])
		v = events[i].Version
	}
	return s, v
}

// recoverInto turns a panic while doing (decoding or executing) name into
// a rejection. The words come apart so that the defer, which runs for
// every command, concatenates nothing until there is a panic.
func recoverInto(err *error, doing, name string) {
	if r := recover(); r != nil {
		*err = Reject(CodeExecutorPanic, "panic while %s %s", doing, name)
	}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
