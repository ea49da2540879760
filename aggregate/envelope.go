package aggregate

import (
	"strconv"
	"time"
)

// Command is the data of one command. Its type name is the name it was
// registered under in a [Definition].
type Command any

// Event is the data of one event. Its type name is the name it was
// registered under in a [Definition].
type Event any

// Meta is the metadata that travels with a command.
type Meta struct {
	// ID is the command id, unique per stream within the dedup window.
	ID string
	// Tenant owns the stream.
	Tenant string
	// Stream is the aggregate id (for Schedule, the schedule id).
	Stream string
	// Initiator is who acted (the subject of the token that sent it).
	Initiator string
	// ProcessID correlates the commands of one workflow. Optional.
	ProcessID string
	// Time is when the command was issued. Executors use it as "now".
	Time time.Time
	// ExpectedVersion, when HasExpectedVersion, is the version the sender
	// based its decision on.
	ExpectedVersion    uint64
	HasExpectedVersion bool
}

// Envelope is one recorded event with its metadata.
type Envelope struct {
	// Type is the event's registered type name (Reserved).
	Type string
	// Schema is the schema version its data was written in (see
	// [Upcast]); 0 means 1. Data, once decoded, is of the newest.
	Schema int
	// Version is the event's position in its stream, from 1, contiguous.
	Version uint64
	// Time is the time of the command that produced it.
	Time time.Time
	// Tenant, Stream, Initiator and ProcessID are copied from the command.
	Tenant    string
	Stream    string
	Initiator string
	ProcessID string
	// PredecessorID is the id of the command that produced the event
	// (causation).
	PredecessorID string
	// Data is the decoded event.
	Data Event
}

// ID is the event's id, unique for all time: tenant/stream/version.
func (e *Envelope) ID() string {
	return e.Tenant + "/" + e.Stream + "/" + strconv.FormatUint(e.Version, 10)
}

// IDPattern is the pattern every id matches, for messages and documents.
const IDPattern = `[A-Za-z0-9][A-Za-z0-9._:-]{0,63}`

// ValidID reports whether s is a valid tenant, stream, visitor or staff id:
// [A-Za-z0-9][A-Za-z0-9._:-]{0,63}. The pattern excludes '/', so ids can be
// joined into keys, and cannot start with '.', so ".." is never an id.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// CheckID returns a rejection with code [CodeInvalidID] (or
// [CodeMissingField] when empty) unless id is valid. field names the field
// in the message.
func CheckID(field, id string) error {
	if id == "" {
		return Reject(CodeMissingField, "%s is required", field)
	}
	if !ValidID(id) {
		return Reject(CodeInvalidID, "%s must match %s", field, IDPattern)
	}
	return nil
}
