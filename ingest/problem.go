package ingest

import (
	"encoding/json"
	"net/http"
)

// Codes of problems raised by ingest itself; rejections keep the codes of
// the domain and the processor.
const (
	CodeUnauthorized   = "unauthorized"      // 401: no or unknown bearer token
	CodeForbidden      = "forbidden"         // 403: the request tries to set its own tenant or initiator
	CodeTooLarge       = "too_large"         // 413: body over 64 KiB
	CodeBadParameter   = "bad_parameter"     // 400: a query parameter or header with a bad value
	CodeUnavailable    = "kafka_unavailable" // 503: Kafka did not take the command
	CodeUnknownCommand = "unknown_command"   // 404: no recent outcome for that id
)

// problem is an RFC 9457 problem document with Rewind's stable code.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{
		Type: "https://rewind.dev/problems/" + code, Title: http.StatusText(status),
		Status: status, Detail: detail, Code: code,
	})
}
