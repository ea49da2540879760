package access

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
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
	// Status is the HTTP status a read answered: 200, or 304 when the
	// client already held the answer. An action is recorded before it is
	// carried out, so its record has none.
	Status     int    `json:"status,omitempty"`
	ScheduleID string `json:"scheduleId,omitempty"`
	// CommandType and CommandID name a command sent through ingest.
	CommandType string `json:"commandType,omitempty"`
	CommandID   string `json:"commandId,omitempty"`
	VisitorID   string `json:"visitorId,omitempty"`
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

// HeaderPurpose carries why a person reads or acts: optional, and the
// record keeps it.
const HeaderPurpose = "X-Purpose"

// NewRecord is the record of request r, by subject of tenant with the
// token tokenID, on route: its client is the connection's address and its
// purpose the X-Purpose header. The caller names what was accessed.
func NewRecord(r *http.Request, tenant, subject, tokenID, route string, action Action) *Record {
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	return &Record{Tenant: tenant, Subject: subject, TokenID: tokenID, Client: client,
		Action: action, Route: route, Purpose: r.Header.Get(HeaderPurpose)}
}

// ErrBadPurpose refuses a purpose that is not a short line of text.
var ErrBadPurpose = fmt.Errorf("%s must be a line of printable text of at most %d bytes", HeaderPurpose, MaxPurpose)

// CheckPurpose checks a record's purpose.
func (r *Record) CheckPurpose() error {
	if len(r.Purpose) > MaxPurpose || strings.ContainsFunc(r.Purpose, func(c rune) bool { return !unicode.IsPrint(c) }) {
		return ErrBadPurpose
	}
	return nil
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
