package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/jsondiff"
	"github.com/rewind/rewind/topics"
)

// rebuildRetryAfter is the Retry-After of 503 rebuilding, in seconds.
const rebuildRetryAfter = "5"

// Limits of pages (waits: api.DefaultWait, api.MaxWait).
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// Routes registers the API and the UI on mux. Every /v1 route needs a
// token with the read scope (a write-only token, such as a kiosk's, is
// answered 403 insufficient_scope) and is scoped to the tenant of that
// token: another tenant's schedule is answered as unknown, never as
// forbidden, so its existence does not leak. Every answer that gives
// out data leaves only once its access record is written (access.go).
func (v *View) Routes(mux *http.ServeMux, tokens *api.Tokens) {
	// The audit lists can be exported whole (export.go).
	exportable := map[string]bool{"GET /v1/activity": true, "GET /v1/access": true}
	handleScoped := func(scope api.Scope, action access.Action, pattern string, h func(http.ResponseWriter, *http.Request, api.Principal, *access.Record)) {
		mux.Handle(pattern, v.instrument(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			who, ok := tokens.Require(w, r, scope)
			if !ok {
				return
			}
			if v.rebuilding.Load() {
				// Never a partial model, nor one folded by two versions:
				// a client retries, or a load balancer routes to a
				// replica that /readyz says is ready.
				w.Header().Set("Retry-After", rebuildRetryAfter)
				api.WriteProblem(w, api.CodeRebuilding,
					fmt.Sprintf("the read model is being rebuilt for logic version %d; retry later or use a ready replica", v.cfg.LogicVersion))
				return
			}
			rec := access.NewRecord(r, who.Tenant, who.Subject, who.TokenID, pattern, action)
			if !checkPurpose(w, rec) {
				return
			}
			if exportable[pattern] && exportFormat(r) != "" {
				h(w, r, who, rec) // streamed: export records it before the first byte
				return
			}
			v.logged(w, r, rec, func(w http.ResponseWriter, rec *access.Record) { h(w, r, who, rec) })
		})))
	}
	handleScoped(api.ScopeRead, access.View, "GET /v1/schedules/{id}", v.getState)
	handleScoped(api.ScopeRead, access.View, "GET /v1/schedules/{id}/events", v.getEvents)
	handleScoped(api.ScopeRead, access.View, "GET /v1/schedules/{id}/timeline", v.getTimeline)
	handleScoped(api.ScopeRead, access.List, "GET /v1/schedules", v.listSchedules)
	handleScoped(api.ScopeRead, access.List, "GET /v1/visitors/{visitorId}/schedules", v.listVisitor)
	handleScoped(api.ScopeAudit, access.List, "GET /v1/visitors/{visitorId}/erasures", v.listErasures)
	handleScoped(api.ScopeAudit, access.List, "GET /v1/activity", v.listActivity)
	handleScoped(api.ScopeAudit, access.List, "GET /v1/access", v.listAccess)
	mux.Handle("GET /ui/", v.instrument("GET /ui/", uiHandler()))
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	mux.Handle("GET /openapi.yaml", api.OpenAPI(OpenAPI))
}

func (v *View) instrument(route string, h http.Handler) http.Handler {
	return api.Instrument(h, v.metrics.requests, v.metrics.latency.WithLabelValues(route), route)
}

// StateResponse is a schedule's state at one version.
type StateResponse struct {
	TenantID   string `json:"tenantId"`
	ScheduleID string `json:"scheduleId"`
	// Version is the version of the state: the last event folded in.
	Version uint64 `json:"version"`
	// LatestVersion is the newest version the view has.
	LatestVersion uint64 `json:"latestVersion"`
	// At echoes ?at= when the state was asked for by instant.
	At *time.Time `json:"at,omitempty"`
	// State is always given; omitempty lets writeState append it to the
	// fields above as stored.
	State json.RawMessage `json:"state,omitempty"`
}

func (v *View) getState(w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record) {
	q, ok := parseParams(w, r, "version", "at", "minVersion", "wait")
	if !ok {
		return
	}
	stream := q.id("id")
	version := q.uint("version", 1)
	at := q.time("at")
	if q.has("version") && q.has("at") {
		q.fail("version", "give either version or at, not both")
	}
	h, snap, found := v.awaitHead(w, r, q, who.Tenant, stream)
	if !found {
		return
	}
	defer snap.Close()
	rec.ScheduleID, rec.VisitorID, rec.Query = stream, h.visitor(), r.URL.RawQuery
	want := h.Version
	if q.has("at") {
		n, err := v.model.versionAt(snap, who.Tenant, stream, &h, at)
		if err != nil {
			v.internalError(w, err)
			return
		}
		want = n
	} else if q.has("version") {
		if version > h.Version {
			api.WriteProblem(w, api.CodeUnknownVersion,
				fmt.Sprintf("version %d is past the latest version %d (use minVersion to wait for it)", version, h.Version))
			return
		}
		want = version
	}
	state, got, err := v.model.stateAt(snap, who.Tenant, stream, &h, want)
	if err != nil {
		v.internalError(w, err)
		return
	}
	if got == 0 {
		api.WriteProblem(w, api.CodeBeforeFirstEvent, "the schedule had no events at that instant")
		return
	}
	// The ETag is the version, and after erasures on purpose also their
	// count: an erasure changes states without a new version. A state
	// with sealed values changes with any destroyed key, so its ETag has
	// the count of those too. Clients revalidate (no-cache); an unchanged
	// answer costs a 304.
	etag := strconv.FormatUint(got, 10)
	if h.Erasures > 0 {
		etag += "." + strconv.Itoa(h.Erasures)
	}
	if bytes.Contains(state, tokenStart) {
		etag += ".k" + strconv.FormatUint(v.keys.erasures.Load(), 10)
	}
	etag = `"` + etag + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	resp := StateResponse{TenantID: who.Tenant, ScheduleID: stream, Version: got, LatestVersion: h.Version}
	if q.has("at") {
		resp.At = &at
	}
	writeState(w, &resp, v.keys.reveal(r.Context(), topics.StreamKey(who.Tenant, stream), state))
}

// writeState writes a StateResponse with its state spliced in as stored:
// through an Encoder, a large state would be validated and compacted
// again, which on a state of thousands of photo sessions is milliseconds.
func writeState(w http.ResponseWriter, resp *StateResponse, state json.RawMessage) {
	resp.State = nil
	head, err := json.Marshal(resp) // an object without "state", ending in "}"
	if err != nil {
		panic(err) // a struct of strings, numbers and a time
	}
	head = append(append(head[:len(head)-1], `,"state":`...), state...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+2))
	_, _ = w.Write(head)
	_, _ = w.Write([]byte("}\n"))
}

// awaitHead returns the stream's head once it has ?minVersion= (waiting at
// most ?wait=), and a Pebble snapshot the head was read from: every read
// of the request goes through it, so a commit of the consumer in between
// cannot mix two versions into one answer. The caller MUST close the
// snapshot when ok. When it cannot answer, it has written the problem,
// the first bad parameter of q's included, so callers need not check q.
func (v *View) awaitHead(w http.ResponseWriter, r *http.Request, q *params, tenant, stream string) (h head, snap *pebble.Snapshot, ok bool) {
	minVersion := q.uint("minVersion", 0)
	wait := q.duration("wait", api.DefaultWait)
	if !q.ok(w) {
		return head{}, nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	var release func() // a slot of v.waiters, taken once the request must wait
	defer func() {
		if release != nil {
			release()
		}
	}()
	for {
		changed := v.changes()
		snap := v.model.db.NewSnapshot()
		h, found, err := v.model.head(snap, tenant, stream)
		if err != nil {
			snap.Close()
			v.internalError(w, err)
			return head{}, nil, false
		}
		if found && h.Version >= minVersion {
			return h, snap, true
		}
		snap.Close()
		if minVersion == 0 {
			api.WriteProblem(w, api.CodeUnknownSchedule, "no schedule with this id")
			return head{}, nil, false
		}
		if release == nil {
			var ok bool
			if release, ok = v.waiters.Acquire(w); !ok {
				return head{}, nil, false
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			w.Header().Set("Retry-After", "1")
			api.WriteProblem(w, api.CodeViewBehind,
				fmt.Sprintf("the view has not reached version %d of this schedule yet", minVersion))
			return head{}, nil, false
		}
	}
}

// Page is one page of a list; Next, when set, is the URL of the next page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func (v *View) getEvents(w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record) {
	streamPage(v, w, r, who, rec, 100, func(snap pebble.Reader, stream string, _ *head, after uint64, limit int) ([]AuditEvent, bool, error) {
		return v.model.events(snap, who.Tenant, stream, after, limit)
	}, func(e AuditEvent) uint64 { return e.Version })
}

// Change is one field an event changed, as a JSON Pointer into the state.
type Change = jsondiff.Change

// TimelineEntry is one event with the state after it and what it changed.
type TimelineEntry struct {
	AuditEvent
	State   json.RawMessage `json:"state"`
	Changes []Change        `json:"changes"`
}

func (v *View) getTimeline(w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record) {
	streamPage(v, w, r, who, rec, 20, func(snap pebble.Reader, stream string, h *head, after uint64, limit int) ([]TimelineEntry, bool, error) {
		return v.timeline(snap, who.Tenant, stream, h, after, limit)
	}, func(e TimelineEntry) uint64 { return e.Version })
}

// streamPage answers one page of a stream's history (?after=&limit=, with
// ?minVersion=&wait=): the events after a version, in order, from fetch.
// version gives an item's version, for the next page's URL.
func streamPage[T any](v *View, w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record, defaultLimit int,
	fetch func(snap pebble.Reader, stream string, h *head, after uint64, limit int) ([]T, bool, error), version func(T) uint64) {
	q, ok := parseParams(w, r, "after", "limit", "minVersion", "wait")
	if !ok {
		return
	}
	stream := q.id("id")
	after := q.uint("after", 0)
	limit := q.limit(defaultLimit)
	h, snap, found := v.awaitHead(w, r, q, who.Tenant, stream)
	if !found {
		return
	}
	defer snap.Close()
	rec.ScheduleID, rec.VisitorID, rec.Query = stream, h.visitor(), r.URL.RawQuery
	items, more, err := fetch(snap, stream, &h, min(after, h.Version), limit) // past the end: an empty page
	if err != nil {
		v.internalError(w, err)
		return
	}
	rec.Rows = new(len(items))
	page := Page[T]{Items: items}
	if more {
		page.Next = fmt.Sprintf("%s?after=%d&limit=%d", r.URL.Path, version(items[len(items)-1]), limit)
	}
	body, err := json.Marshal(page)
	if err != nil {
		v.internalError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(v.keys.reveal(r.Context(), topics.StreamKey(who.Tenant, stream), body), '\n'))
}

func (v *View) timeline(snap pebble.Reader, tenant, stream string, h *head, after uint64, limit int) ([]TimelineEntry, bool, error) {
	evs, more, err := v.model.events(snap, tenant, stream, after, limit)
	if err != nil {
		return nil, false, err
	}
	prev, _, err := v.model.stateAt(snap, tenant, stream, h, after)
	if err != nil {
		return nil, false, err
	}
	s := schedule.Definition.Seed()
	if prev != nil {
		if err := json.Unmarshal(prev, &s); err != nil {
			return nil, false, fmt.Errorf("%w: %w", errCorrupt, err)
		}
	}
	out := make([]TimelineEntry, 0, len(evs))
	for _, e := range evs {
		se := storedEvent{Type: e.Type, Time: e.Time, Initiator: e.Initiator, ProcessID: e.ProcessID,
			PredecessorID: e.PredecessorID, Schema: e.DataSchema, Data: e.Data}
		env := v.model.envelope(tenant, stream, e.Version, &se)
		s = schedule.Definition.Apply(s, &env)
		cur, err := s.AppendJSON(nil)
		if err != nil {
			return nil, false, err
		}
		changes, err := jsondiff.Diff(prev, cur)
		if err != nil {
			return nil, false, err
		}
		out = append(out, TimelineEntry{AuditEvent: e, State: cur, Changes: changes})
		prev = cur
	}
	return out, more, nil
}

func (v *View) listSchedules(w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record) {
	q, ok := parseParams(w, r, "from", "to", "status", "limit", "cursor")
	if !ok {
		return
	}
	f := &listFilter{from: q.time("from"), to: q.time("to"), status: q.status()}
	if !q.has("from") {
		q.fail("from", "required (RFC 3339)")
	}
	if !q.has("to") {
		q.fail("to", "required (RFC 3339)")
	}
	q.window(f.from, f.to)
	limit := q.limit(defaultLimit)
	if !q.ok(w) {
		return
	}
	snap := v.model.db.NewSnapshot()
	defer snap.Close()
	items, next, err := v.model.schedules(snap, who.Tenant, f, q.get("cursor"), limit)
	writePage(v, w, r, rec, items, next, err)
}

func (v *View) listVisitor(w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record) {
	q, ok := parseParams(w, r, "status", "limit", "cursor")
	if !ok {
		return
	}
	visitor := q.id("visitorId")
	f := &listFilter{status: q.status()}
	limit := q.limit(defaultLimit)
	if !q.ok(w) {
		return
	}
	snap := v.model.db.NewSnapshot()
	defer snap.Close()
	items, next, err := v.model.visitorSchedules(snap, who.Tenant, visitor, f, q.get("cursor"), limit)
	rec.VisitorID = visitor
	writePage(v, w, r, rec, items, next, err)
}

// listErasures answers a visitor's erasures (scope audit): the audit
// trail of the erasure of their personal data, from the key topic's
// destruction records, which stay for good.
func (v *View) listErasures(w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record) {
	q, ok := parseParams(w, r)
	if !ok {
		return
	}
	visitor := q.id("visitorId")
	if !q.ok(w) {
		return
	}
	items := v.keys.erasuresOf(who.Tenant, visitor)
	if items == nil {
		items = []Erasure{}
	}
	rec.VisitorID, rec.Rows = visitor, new(len(items))
	api.WriteJSON(w, http.StatusOK, Page[Erasure]{Items: items})
}

// writePage answers a page of a list, with the URL of the next page when
// next is a cursor, and notes its query and rows in rec.
func writePage[T any](v *View, w http.ResponseWriter, r *http.Request, rec *access.Record, items []T, next string, err error) {
	if errors.Is(err, errBadCursor) {
		api.WriteProblem(w, api.CodeBadParameter, "cursor: "+err.Error())
		return
	}
	if err != nil {
		v.internalError(w, err)
		return
	}
	rec.Query, rec.Rows = r.URL.RawQuery, new(len(items))
	page := Page[T]{Items: items}
	if next != "" {
		u := *r.URL
		qs := u.Query()
		qs.Set("cursor", next)
		u.RawQuery = qs.Encode()
		page.Next = u.RequestURI()
	}
	api.WriteJSON(w, http.StatusOK, page)
}

func (v *View) internalError(w http.ResponseWriter, err error) {
	// The error may name ids (tenant, schedule), never patient data: it
	// is logged, and the client gets only the code.
	v.log.Error("read model", "err", err)
	api.WriteProblem(w, api.CodeInternal, "the read model failed to answer; see the service log")
}
