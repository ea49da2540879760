package api

import (
	"fmt"
	"net/http"
	"time"
)

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
