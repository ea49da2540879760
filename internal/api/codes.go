package api

import (
	"net/http"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/topics"
)

// The codes of the problems Rewind's HTTP services answer with. A client
// branches on the code, so a code is never renamed and always comes with
// the one status the catalogue below gives it. The rejections a command
// meets keep the codes of the kernel, the topics, the processor and the
// domain (on schedule-results); CommandProblem and RejectionProblem map
// them to HTTP. docs/http.md lists both.
const (
	// CodeUnauthorized answers a request without a known bearer token.
	CodeUnauthorized = "unauthorized"
	// CodeInsufficientScope answers a known token that lacks the scope
	// the service requires: read for query, write for ingest.
	CodeInsufficientScope = "insufficient_scope"
	// CodeTooManyWaiting answers a request that would wait (for an
	// outcome, for the view to catch up) while the most requests allowed
	// to wait at once already do; with Retry-After.
	CodeTooManyWaiting = "too_many_waiting"
	// CodeNotFound answers a path no route has.
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed answers a method the path's routes do not
	// take; Allow lists those they do.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeBadParameter answers a query parameter or header with a bad
	// value.
	CodeBadParameter = "bad_parameter"
	// CodeTooLarge answers a body, a line of a batch or a batch over its
	// bound: the code the processor rejects a command record over its
	// bound with.
	CodeTooLarge = topics.CodeTooLarge
	// CodeForbidden answers a request that tries to set its own tenant or
	// initiator: they come from the token.
	CodeForbidden = "forbidden"
	// CodeKafkaUnavailable answers a command Kafka did not acknowledge in
	// time: it may or may not land, and a retry with its id is safe.
	CodeKafkaUnavailable = "kafka_unavailable"
	// CodeUnknownCommand answers an outcome asked for an id
	// schedule-results does not hold for the tenant.
	CodeUnknownCommand = "unknown_command"
	// CodeOutcomesLoading answers an outcome asked for while the outcome
	// history is still being read (after a start on an empty directory):
	// an id not found yet may still be found.
	CodeOutcomesLoading = "outcomes_loading"
	// CodeIdempotencyKeyReused answers a command whose key (its id) was
	// already used for another type, data or expected version. The
	// processor rejects such a record without running it, with this code
	// (topics.CodeIdempotencyKeyReused); ingest answers it as a
	// problem, never as a duplicate.
	CodeIdempotencyKeyReused = topics.CodeIdempotencyKeyReused
	// CodeUnknownSchedule answers a schedule the tenant does not have.
	CodeUnknownSchedule = "unknown_schedule"
	// CodeUnknownVersion answers a ?version= past the latest version.
	CodeUnknownVersion = "unknown_version"
	// CodeBeforeFirstEvent answers an ?at= before the schedule's first
	// event.
	CodeBeforeFirstEvent = "before_first_event"
	// CodeViewBehind answers a ?minVersion= the view did not reach
	// within ?wait=.
	CodeViewBehind = "view_behind"
	// CodeRebuilding answers while the read model is rebuilt for a new
	// logic version.
	CodeRebuilding = "rebuilding"
	// CodeErasureUnavailable answers an erasure that cannot be signed or
	// whose signature the processors refuse: their erasure keys and
	// ingest's differ, or one has none. Nothing was destroyed.
	CodeErasureUnavailable = "erasure_unavailable"
	// CodeAuditUnavailable answers a read or an action whose access
	// record could not be written: no data is given out unlogged
	// (docs/audit.md).
	CodeAuditUnavailable = "audit_unavailable"
	// CodeAccessNotIndexed answers GET /v1/access on a query replica
	// that does not fold the access log (-access-index=false): the
	// auditors' replicas do.
	CodeAccessNotIndexed = "access_not_indexed"
	// CodeInternal answers a failure of the service itself; its log says
	// more.
	CodeInternal = "internal"
)

// statuses is the catalogue: the status each problem code answers with.
// The kernel's codes are here too: ingest checks a command's envelope and
// data before it produces it, and answers what it finds with them.
var statuses = map[string]int{
	CodeUnauthorized:         http.StatusUnauthorized,
	CodeInsufficientScope:    http.StatusForbidden,
	CodeTooManyWaiting:       http.StatusServiceUnavailable,
	CodeNotFound:             http.StatusNotFound,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeBadParameter:         http.StatusBadRequest,
	CodeTooLarge:             http.StatusRequestEntityTooLarge,
	CodeForbidden:            http.StatusForbidden,
	CodeKafkaUnavailable:     http.StatusServiceUnavailable,
	CodeUnknownCommand:       http.StatusNotFound,
	CodeOutcomesLoading:      http.StatusServiceUnavailable,
	CodeIdempotencyKeyReused: http.StatusUnprocessableEntity,
	CodeUnknownSchedule:      http.StatusNotFound,
	CodeUnknownVersion:       http.StatusNotFound,
	CodeBeforeFirstEvent:     http.StatusNotFound,
	CodeViewBehind:           http.StatusServiceUnavailable,
	CodeRebuilding:           http.StatusServiceUnavailable,
	CodeInternal:             http.StatusInternalServerError,
	CodeErasureUnavailable:   http.StatusServiceUnavailable,
	CodeAuditUnavailable:     http.StatusServiceUnavailable,
	CodeAccessNotIndexed:     http.StatusNotFound,

	aggregate.CodeMalformed:    http.StatusBadRequest,
	aggregate.CodeUnknownField: http.StatusBadRequest,
	aggregate.CodeInvalidField: http.StatusBadRequest,
	aggregate.CodeMissingField: http.StatusBadRequest,
	aggregate.CodeInvalidID:    http.StatusBadRequest,
	aggregate.CodeUnknownType:  http.StatusNotFound,
}

// Status is the HTTP status of a problem code. A code missing from the
// catalogue is a bug of the service; it answers 500 rather than guess.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// NewProblem returns the problem document of code, with its status.
// detail is for people.
func NewProblem(code, detail string) Problem {
	status := Status(code)
	return Problem{Type: problemType + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

// problemType prefixes a code to make a problem's type URI.
const problemType = "https://rewind.dev/problems/"

// CommandProblem is the problem document of a command ingest refuses
// before sending it, because its data broke a rule of the kernel or of
// the domain: the code is theirs, as the processor would reject the
// command with it. A kernel code has its status in the catalogue (404
// unknown_type, 400 the others); a domain's code, such as
// invalid_time_range, is a 400 too: the request itself is wrong.
func CommandProblem(code, detail string) Problem {
	p := NewProblem(code, detail)
	if _, ok := statuses[code]; !ok {
		p.Status, p.Title = http.StatusBadRequest, http.StatusText(http.StatusBadRequest)
	}
	return p
}

// RejectionProblem is the problem document answering a command the
// processor rejected with code: 412 for a version conflict (the If-Match
// or expectedVersion precondition failed), 409 for every other rejection
// (the request was understood; the schedule's state refused it). A
// reused idempotency key is no rejection of the command but a problem of
// the request: 422 idempotency_key_reused, from the catalogue.
func RejectionProblem(code, detail string) Problem {
	status := http.StatusConflict
	if code == aggregate.CodeVersionConflict {
		status = http.StatusPreconditionFailed
	}
	return Problem{Type: problemType + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}
