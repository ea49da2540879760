package query

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
)

// Activity is one event in the clinic-wide activity trail: who did what
// to which schedule, when. It holds ids, never a personal value.
type Activity struct {
	Time       time.Time `json:"time"`
	Initiator  string    `json:"initiator,omitempty"`
	Type       string    `json:"type"`
	ScheduleID string    `json:"scheduleId"`
	VisitorID  string    `json:"visitorId,omitempty"`
	Version    uint64    `json:"version"`
	ProcessID  string    `json:"processId,omitempty"`
}

// The activity indexes. Each event of a tenant has an entry in the time
// index, "t<tenant>/<time:12><version:8><stream>", and the same suffix
// under its initiator ("i<tenant>/<initiator>/…"), its type
// ("y<tenant>/<type>/…") and its visitor ("w<tenant>/<visitor>/…"). Every
// entry holds the whole Activity, so a filtered list reads one index and
// filters the rest in place. Ids never hold '/', so the prefixes do not
// overlap, and the suffix sorts by time, then version.

func activityPrefix(prefix byte, tenant, by string) []byte {
	k := append(append([]byte{prefix}, tenant...), '/')
	if prefix != prefixActivity {
		k = append(append(k, by...), '/')
	}
	return k
}

func activitySuffix(t time.Time, version uint64, stream string) []byte {
	return append(binary.BigEndian.AppendUint64(appendTime(nil, t), version), stream...)
}

// activityKeys are the index keys of a.
func activityKeys(tenant string, a *Activity) [][]byte {
	suffix := activitySuffix(a.Time, a.Version, a.ScheduleID)
	keys := [][]byte{append(activityPrefix(prefixActivity, tenant, ""), suffix...),
		append(activityPrefix(prefixActivityType, tenant, a.Type), suffix...)}
	if a.Initiator != "" {
		keys = append(keys, append(activityPrefix(prefixActivityInitiator, tenant, a.Initiator), suffix...))
	}
	if a.VisitorID != "" {
		keys = append(keys, append(activityPrefix(prefixActivityVisitor, tenant, a.VisitorID), suffix...))
	}
	return keys
}

// indexActivity writes an event's entries.
func (w *writer) indexActivity(tenant string, a *Activity) error {
	val := mustJSON(a)
	for _, k := range activityKeys(tenant, a) {
		if err := w.b.Set(k, val, nil); err != nil {
			return err
		}
	}
	return nil
}

// unindexActivity deletes the entries of the event at version v of stream,
// recorded at t: the event was erased.
func (w *writer) unindexActivity(tenant, stream string, t time.Time, v uint64) error {
	key := append(activityPrefix(prefixActivity, tenant, ""), activitySuffix(t, v, stream)...)
	val, closer, err := w.m.db.Get(key)
	if err == pebble.ErrNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	var a Activity
	err = json.Unmarshal(val, &a)
	closer.Close()
	if err != nil {
		return fmt.Errorf("%w: activity: %w", errCorrupt, err)
	}
	for _, k := range activityKeys(tenant, &a) {
		if err := w.b.Delete(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// activityFilter is what GET /v1/activity asks for. from and to bound the
// event time, [from, to); zero is unbounded.
type activityFilter struct {
	from, to                            time.Time
	initiator, typ, visitor, scheduleID string
	newestFirst                         bool
}

func (f *activityFilter) match(a *Activity) bool {
	return (f.initiator == "" || a.Initiator == f.initiator) && (f.typ == "" || a.Type == f.typ) &&
		(f.visitor == "" || a.VisitorID == f.visitor) && (f.scheduleID == "" || a.ScheduleID == f.scheduleID) &&
		(f.from.IsZero() || !a.Time.Before(f.from)) && (f.to.IsZero() || a.Time.Before(f.to))
}

// index picks the narrowest index the filter names.
func (f *activityFilter) index(tenant string) []byte {
	switch {
	case f.visitor != "":
		return activityPrefix(prefixActivityVisitor, tenant, f.visitor)
	case f.initiator != "":
		return activityPrefix(prefixActivityInitiator, tenant, f.initiator)
	case f.typ != "":
		return activityPrefix(prefixActivityType, tenant, f.typ)
	}
	return activityPrefix(prefixActivity, tenant, "")
}

// maxIndexScan bounds the entries one page of a time-ordered index
// reads: a filter that the index does not cover (a rare type within a
// busy initiator's years) answers a short page and a cursor, not a long
// wait.
const maxIndexScan = 20000

// activity lists a tenant's events that match f, a page of at most limit
// after cursor, and the cursor of the next page ("" at the end). A page
// may be short, even empty, with a cursor: the scan stopped at its bound.
func (m *model) activity(r pebble.Reader, tenant string, f *activityFilter, cursor string, limit int) ([]Activity, string, error) {
	return indexPage(r, f.index(tenant), nil, f.from, f.to, f.newestFirst, cursor, limit, f.match)
}

// indexPage reads a page of the time-ordered index under pre (each key's
// suffix starts with a time, each value is a T in JSON or, when load is
// set, the T is what load finds for the suffix): the entries in
// [from, to) (zero: unbounded) that keep accepts, oldest or newest first,
// from cursor on, at most limit of them and at most maxIndexScan read.
// It returns the cursor of the next page, "" at the end: the suffix of
// the first entry not returned, where the next page starts in either
// order.
func indexPage[T any](r pebble.Reader, pre []byte, load func(suffix []byte) ([]byte, error), from, to time.Time, newestFirst bool, cursor string, limit int, keep func(*T) bool) ([]T, string, error) {
	lower, upper := slices.Clone(pre), prefixEnd(pre)
	if !from.IsZero() {
		lower = appendTime(slices.Clone(pre), from)
	}
	if !to.IsZero() {
		upper = appendTime(slices.Clone(pre), to)
	}
	if cursor != "" {
		c, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(c) <= timeLen {
			return nil, "", errBadCursor
		}
		at := append(slices.Clone(pre), c...)
		if newestFirst {
			if at = append(at, 0); bytes.Compare(at, upper) < 0 {
				upper = at // the smallest key after the cursor's
			}
		} else if bytes.Compare(at, lower) > 0 {
			lower = at
		}
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	out := []T{}
	scanned := 0
	for it := range inOrder(it, newestFirst) {
		if len(out) == limit || scanned == maxIndexScan {
			return out, base64.RawURLEncoding.EncodeToString(it.Key()[len(pre):]), nil
		}
		scanned++
		value := it.Value()
		if load != nil {
			var err error
			if value, err = load(it.Key()[len(pre):]); err != nil {
				return nil, "", err
			}
		}
		var x T
		if err := json.Unmarshal(value, &x); err != nil {
			return nil, "", fmt.Errorf("%w: index entry: %w", errCorrupt, err)
		}
		if keep(&x) {
			out = append(out, x)
		}
	}
	return out, "", it.Error()
}

// inOrder steps through it, from its first entry or, backwards, from its
// last.
func inOrder(it *pebble.Iterator, backwards bool) iter.Seq[*pebble.Iterator] {
	return func(yield func(*pebble.Iterator) bool) {
		first, step := it.First, it.Next
		if backwards {
			first, step = it.Last, it.Prev
		}
		for ok := first(); ok && yield(it); ok = step() {
		}
	}
}

// storedEvent reads the event at version v of a stream.
func (m *model) storedEvent(r pebble.Reader, tenant, stream string, v uint64) (storedEvent, bool, error) {
	var se storedEvent
	val, closer, err := r.Get(versionKey(prefixEvent, tenant, stream, v))
	if err == pebble.ErrNotFound {
		return se, false, nil
	}
	if err != nil {
		return se, false, err
	}
	defer closer.Close()
	return se, true, decodeStoredEvent(val, &se)
}

// scheduleActivity is activity for one schedule: its own events, by
// version (the order its events were decided in), filtered in place. The
// cursor is the version the next page starts at.
func (m *model) scheduleActivity(r pebble.Reader, tenant string, h *head, f *activityFilter, cursor string, limit int) ([]Activity, string, error) {
	lo, hi := uint64(1), h.Version+1 // versions [lo, hi)
	if cursor != "" {
		c, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(c) != 8 {
			return nil, "", errBadCursor
		}
		if at := binary.BigEndian.Uint64(c); f.newestFirst {
			hi = min(hi, at+1)
		} else {
			lo = max(lo, at)
		}
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: versionKey(prefixEvent, tenant, f.scheduleID, lo),
		UpperBound: versionKey(prefixEvent, tenant, f.scheduleID, hi)})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	pre := streamPrefix(prefixEvent, tenant, f.scheduleID)
	out := []Activity{}
	for it := range inOrder(it, f.newestFirst) {
		v := binary.BigEndian.Uint64(it.Key()[len(pre):])
		if len(out) == limit {
			return out, base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, v)), nil
		}
		var se storedEvent
		if err := decodeStoredEvent(it.Value(), &se); err != nil {
			return nil, "", err
		}
		a := Activity{Time: se.Time, Initiator: se.Initiator, Type: se.Type, ScheduleID: f.scheduleID,
			VisitorID: h.visitor(), Version: v, ProcessID: se.ProcessID}
		if f.match(&a) {
			out = append(out, a)
		}
	}
	return out, "", it.Error()
}

// listActivity answers GET /v1/activity (scope audit): the tenant's
// events across schedules, newest first unless ?order=oldest.
func (v *View) listActivity(w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record) {
	q, ok := parseParams(w, r, "from", "to", "initiator", "type", "visitorId", "scheduleId", "order", "limit", "cursor", "format")
	if !ok {
		return
	}
	f := &activityFilter{from: q.time("from"), to: q.time("to"),
		initiator: q.optionalID("initiator"), typ: q.optionalID("type"), visitor: q.optionalID("visitorId"), scheduleID: q.optionalID("scheduleId")}
	f.newestFirst = q.order()
	q.window(f.from, f.to)
	q.format()
	limit := q.limit(defaultLimit)
	if !q.ok(w) {
		return
	}
	snap := v.model.db.NewSnapshot()
	defer snap.Close()
	page := func(cursor string, limit int) ([]Activity, string, error) {
		if f.scheduleID == "" {
			return v.model.activity(snap, who.Tenant, f, cursor, limit)
		}
		h, found, err := v.model.head(snap, who.Tenant, f.scheduleID)
		if err != nil || !found {
			return []Activity{}, "", err // another tenant's, or none: the same empty answer
		}
		return v.model.scheduleActivity(snap, who.Tenant, &h, f, cursor, limit)
	}
	rec.VisitorID, rec.ScheduleID = f.visitor, f.scheduleID
	if format := exportFormat(r); format != "" {
		export(v, w, r, rec, format, page, activityExporter)
		return
	}
	items, next, err := page(q.get("cursor"), limit)
	rec.Query = r.URL.RawQuery
	writePage(v, w, r, rec, items, next, err)
}
