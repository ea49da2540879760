package ingest

import (
	"net/http"

	"github.com/rewind/rewind/internal/api"
)

// Codes of problems raised by ingest itself; rejections keep the codes of
// the domain and the processor.
const (
	CodeForbidden      = "forbidden"         // 403: the request tries to set its own tenant or initiator
	CodeTooLarge       = "too_large"         // 413: body over 64 KiB
	CodeBadParameter   = "bad_parameter"     // 400: a query parameter or header with a bad value
	CodeUnavailable    = "kafka_unavailable" // 503: Kafka did not take the command
	CodeUnknownCommand = "unknown_command"   // 404: no outcome for that id on schedule-results
	// CodeOutcomesLoading (503): the outcome history is still being read
	// from schedule-results (after a start on an empty directory), so an
	// id not found yet may still be found.
	CodeOutcomesLoading = "outcomes_loading"
	// CodeIdempotencyKeyReused (422): the key (the command id) was
	// already used for a command with another type, data or expected
	// version. The processor rejects such a record without running it,
	// with this code (processor.CodeIdempotencyKeyReused); ingest answers
	// it as a problem, never as a duplicate.
	CodeIdempotencyKeyReused = "idempotency_key_reused"
)

// Codes shared by every service.
const (
	CodeUnauthorized      = api.CodeUnauthorized      // 401: no valid bearer token
	CodeInsufficientScope = api.CodeInsufficientScope // 403: the token lacks the write scope
	CodeTooManyWaiting    = api.CodeTooManyWaiting    // 503: too many requests wait for outcomes
)

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	api.WriteProblem(w, status, code, detail)
}
