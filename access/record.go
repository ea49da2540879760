package access

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Action is what an access did.
type Action string

// The actions, after the access log a personal-information system keeps
// (Korea's safety-measures standard, article 8; HIPAA §164.312(b)).
const (
	// View is a read of one schedule: its state, events or timeline.
	View Action = "view"
	// List is a read of many: a day's schedules, a visitor's, the
	// activity trail, the access log.
	List Action = "list"
	// Export is a list written out as a file (CSV, NDJSON, FHIR); it
	// needs a purpose.
	Export Action = "export"
	// Erase is the erasure of a visitor's personal data.
	Erase Action = "erase"
	// Command is a change sent through ingest.
	Command Action = "command"
)

// Actions lists every action, for validation and the catalogue.
var Actions = []Action{View, List, Export, Erase, Command}

// MaxPurpose bounds a purpose, in bytes: a reason, not a document.
const MaxPurpose = 200

// Record is one access. It holds ids and counts, never a personal value;
// the purpose is the client's words and, like an erasure's reason, must
// not hold one either (docs/audit.md).
type Record struct {
	Time    time.Time `json:"time"`
	Tenant  string    `json:"tenant"`
	Subject string    `json:"subject"`
	// TokenID names the token the request came with, without being it:
	// the first 12 hex digits of its SHA-256, as in the tokens file.
	TokenID string `json:"tokenId"`
	// Client is the address the request came from (the connection's,
	// not a header a client can set).
	Client  string `json:"client"`
	Service string `json:"service"`
	Action  Action `json:"action"`
	// Route is the API route, such as "GET /v1/schedules/{id}".
	Route string `json:"route"`
	// Status is the HTTP status answered: 200, or 304 when the client
	// already held the answer.
	Status     int    `json:"status"`
	ScheduleID string `json:"scheduleId,omitempty"`
	VisitorID  string `json:"visitorId,omitempty"`
	// Query is a list's query string: its filters, never a value of
	// patient data (filters are ids, times, types and statuses).
	Query string `json:"query,omitempty"`
	// Rows is how many items a list or export returned.
	Rows    *int   `json:"rows,omitempty"`
	Purpose string `json:"purpose,omitempty"`

	// Writer, Seq and Prev chain a writer's records: Seq counts from 1
	// and Prev is the hex SHA-256 of the writer's previous record as
	// written ("" at Seq 1).
	Writer string `json:"writer"`
	Seq    uint64 `json:"seq"`
	Prev   string `json:"prev,omitempty"`
}

// Encode is the record as written to schedule-access.
func (r *Record) Encode() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // strings, numbers and a time
	}
	return b
}

// Decode reads a value of schedule-access.
func Decode(value []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(value, &r); err != nil {
		return Record{}, fmt.Errorf("access: not a record: %w", err)
	}
	if r.Writer == "" || r.Seq == 0 || r.Tenant == "" {
		return Record{}, errors.New("access: not a record: writer, seq and tenant are required")
	}
	return r, nil
}

// Hash is what the next record of the chain holds as Prev: the SHA-256
// of a record's value as written, in hex.
func Hash(value []byte) string {
	sum := sha256.Sum256(value)
	return hex.EncodeToString(sum[:])
}
