package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// OpenAPI serves a service's OpenAPI document, the contract its tests
// hold the handlers to.
func OpenAPI(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(doc)
	})
}

// Instrument counts each answer of h in requests, labelled with labels
// and then the HTTP status, and times it in latency when that is not nil.
func Instrument(h http.Handler, requests *prometheus.CounterVec, latency prometheus.Observer, labels ...string) http.Handler {
	labels = slices.Clip(labels) // each request's append makes its own copy
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := NewStatusRecorder(w)
		defer func() {
			if latency != nil {
				latency.Observe(time.Since(start).Seconds())
			}
			requests.WithLabelValues(append(labels, strconv.Itoa(rec.Status))...).Inc()
		}()
		h.ServeHTTP(rec, r)
	})
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

// Unwrap gives http.ResponseController the underlying writer (flushes,
// deadlines).
func (r *StatusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ParseIfMatch reads an If-Match header that names one version, as the
// ETags of ingest and query are written: "3". A bare 3 and a weak W/"3"
// are taken too, as they always were. A list, "*", an erasure-counting
// ETag such as "3.1", or anything else is refused.
func ParseIfMatch(h string) (version uint64, ok bool) {
	h = strings.TrimPrefix(h, "W/")
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		h = h[1 : len(h)-1]
	}
	if h == "" || len(h) > 20 {
		return 0, false
	}
	for i := 0; i < len(h); i++ {
		if h[i] < '0' || h[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(h, 10, 64)
	return v, err == nil
}
