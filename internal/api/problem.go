package api

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem document with Rewind's stable code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// WriteProblem answers with the problem document of code (see the
// catalogue in codes.go); detail is for people.
func WriteProblem(w http.ResponseWriter, code, detail string) {
	NewProblem(code, detail).Write(w)
}

// Write answers with the problem document.
func (p Problem) Write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
