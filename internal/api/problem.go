package api

import (
	"encoding/json"
	"net/http"
)

// CodeUnauthorized answers a request without a known bearer token (401).
const CodeUnauthorized = "unauthorized"

// Problem is an RFC 9457 problem document with Rewind's stable code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// WriteProblem answers with a problem document. code is the stable,
// snake_case code clients branch on; detail is for people.
func WriteProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{
		Type: "https://rewind.dev/problems/" + code, Title: http.StatusText(status),
		Status: status, Detail: detail, Code: code,
	})
}

// Authenticate resolves the request's bearer token. On failure it has
// already answered 401 and returns ok false.
func (t *Tokens) Authenticate(w http.ResponseWriter, r *http.Request) (who Principal, ok bool) {
	token, hasBearer := cutBearer(r.Header.Get("Authorization"))
	who, known := t.Lookup(token)
	if !hasBearer || !known {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rewind"`)
		WriteProblem(w, http.StatusUnauthorized, CodeUnauthorized, "a valid bearer token is required")
		return Principal{}, false
	}
	return who, true
}

func cutBearer(h string) (string, bool) {
	if len(h) > 7 && (h[:7] == "Bearer " || h[:7] == "bearer ") {
		return h[7:], true
	}
	return "", false
}

// StatusRecorder remembers the status code a handler wrote, for request
// metrics.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// NewStatusRecorder wraps w; the status is 200 until a handler sets one.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w, Status: http.StatusOK}
}

// WriteHeader records the code and writes it.
func (r *StatusRecorder) WriteHeader(code int) {
	r.Status = code
	r.ResponseWriter.WriteHeader(code)
}
