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
	CodeUnknownCommand = "unknown_command"   // 404: no recent outcome for that id
)

// CodeUnauthorized answers a request without a known bearer token (401).
const CodeUnauthorized = api.CodeUnauthorized

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	api.WriteProblem(w, status, code, detail)
}
