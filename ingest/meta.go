package ingest

import (
	"net/http"
	"strings"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/api"
)

// meta builds the command's metadata from the request: the id from
// Idempotency-Key (or a fresh one), the time from Ce-Time (commandTime),
// the expected version from If-Match.
func (s *Server) meta(r *http.Request, who api.Principal, stream string) (aggregate.Meta, time.Duration, *aggregate.Rejection) {
	m := aggregate.Meta{ID: r.Header.Get("Idempotency-Key"), Tenant: who.Tenant, Stream: stream,
		Initiator: who.Subject}
	var terr *aggregate.Rejection
	if m.Time, terr = commandTime(r.Header.Get("Ce-Time"), "Ce-Time"); terr != nil {
		return m, 0, terr
	}
	if m.ID == "" {
		m.ID = newID()
	} else if len(m.ID) > 256 || strings.ContainsAny(m.ID, "\x00\r\n") {
		return m, 0, aggregate.Reject(api.CodeBadParameter, "Idempotency-Key is at most 256 bytes of one line")
	}
	if im := r.Header.Get("If-Match"); im != "" {
		v, ok := api.ParseIfMatch(im)
		if !ok {
			return m, 0, aggregate.Reject(api.CodeBadParameter, `If-Match must be one version, like "3"`)
		}
		m.ExpectedVersion, m.HasExpectedVersion = v, true
	}
	wait, err := s.wait(r)
	return m, wait, err
}

// maxAhead is how far ahead of ingest's clock a caller's command time may
// be: clock skew between hosts, not a command that has yet to happen.
const maxAhead = time.Minute

// commandTime is when the command happened: the caller's time, from the
// CloudEvents attribute a producer on the commands topic sets as ce_time,
// or ingest's clock when there is none. A time in the past is the
// caller's to claim (an import of a legacy system's history, a replayed
// day); the initiator recorded beside it is still the token's.
func commandTime(s, name string) (time.Time, *aggregate.Rejection) {
	now := time.Now().UTC()
	if s == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return now, aggregate.Reject(api.CodeBadParameter, "%s must be an RFC 3339 time, like 2026-03-02T09:15:00Z", name)
	}
	if t.After(now.Add(maxAhead)) {
		return now, aggregate.Reject(api.CodeBadParameter, "%s is more than a minute ahead of ingest's clock", name)
	}
	return t.UTC(), nil
}
