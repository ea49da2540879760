package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// Authenticate resolves the request's bearer token. On failure it has
// already answered 401 and returns ok false.
func (t *Tokens) Authenticate(w http.ResponseWriter, r *http.Request) (who Principal, ok bool) {
	token, hasBearer := ParseBearer(r.Header.Get("Authorization"))
	who, known := t.Lookup(token)
	if !hasBearer || !known {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rewind"`)
		WriteProblem(w, CodeUnauthorized, "a valid bearer token is required")
		return Principal{}, false
	}
	return who, true
}

// Require authenticates the request and checks that its token holds
// scope. On failure it has already answered (401, or 403
// insufficient_scope as RFC 6750 names it) and returns ok false.
func (t *Tokens) Require(w http.ResponseWriter, r *http.Request, scope Scope) (who Principal, ok bool) {
	who, ok = t.Authenticate(w, r)
	if !ok {
		return Principal{}, false
	}
	if !who.Can(scope) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rewind", error="insufficient_scope", scope="`+scope.String()+`"`)
		WriteProblem(w, CodeInsufficientScope, "this token lacks the "+scope.String()+" scope this service requires")
		return Principal{}, false
	}
	return who, true
}

// maxTokenLen bounds a bearer token: Rewind's are 48 characters; a
// megabyte of "token" is not one.
const maxTokenLen = 1024

// ParseBearer reads an Authorization header of the Bearer scheme (RFC
// 6750 §2.1; the scheme name is case-insensitive). The token is one
// token68: no spaces, no control characters.
func ParseBearer(h string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(rest, " ")
	if token == "" || len(token) > maxTokenLen {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if !isToken68(token[i]) {
			return "", false
		}
	}
	return token, true
}

// isToken68 reports whether c may appear in an RFC 7235 token68.
func isToken68(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/=", c) >= 0
}

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

// Waiters bounds the requests that wait at once — for a command's outcome,
// for the read model to reach a version — so that a flood of waits cannot
// pile up goroutines, tickets and connections without limit.
type Waiters struct {
	slots chan struct{}
}

// DefaultMaxWaiting is the bound of NewWaiters(0).
const DefaultMaxWaiting = 1024

// NewWaiters allows n requests to wait at once; n ≤ 0 means
// DefaultMaxWaiting.
func NewWaiters(n int) *Waiters {
	if n <= 0 {
		n = DefaultMaxWaiting
	}
	return &Waiters{slots: make(chan struct{}, n)}
}

// Acquire takes a slot for a request about to wait. When none is free it
// answers 503 too_many_waiting with Retry-After and returns ok false;
// otherwise the caller MUST call release when the wait ends.
func (l *Waiters) Acquire(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots }, true
	default:
		w.Header().Set("Retry-After", "1")
		WriteProblem(w, CodeTooManyWaiting,
			"too many requests are waiting at once; retry in a second (a command sent with an Idempotency-Key may be retried safely)")
		return nil, false
	}
}

// Waiting is how many requests hold a slot.
func (l *Waiters) Waiting() int { return len(l.slots) }

// The bounds of ?wait=, alike on ingest and query. DefaultWait is a
// request's wait without one; MaxWait is the longest a request may ask
// for: a waiting request holds a connection and one of the waiters'
// slots.
const (
	DefaultWait = 5 * time.Second
	MaxWait     = 30 * time.Second
)

// ParseWait reads a ?wait= value: a Go duration from 0 to most. Ingest
// and query read it alike, and a value out of range is an error (a 400),
// as for every other parameter: cutting it short silently would answer
// 202 or 503 where the client asked to wait.
func ParseWait(v string, most time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > most {
		return 0, fmt.Errorf("must be a duration between 0s and %s, like 5s", most)
	}
	return d, nil
}
