package query

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rewind/rewind/aggregate/schedule"
)

// stateAt is the state as it was at version v: its JSON and the version
// of the last event folded into it (below v when v was erased; 0 when no
// event is at or below v). It reads the newest snapshot at or below v and
// folds the events after it, fewer than snapshotEvery of them.
func (m *model) stateAt(r pebble.Reader, tenant, stream string, h *head, v uint64) (json.RawMessage, uint64, error) {
	if v >= h.Version {
		state, err := m.currentState(r, tenant, stream)
		return state, h.Version, err
	}
	snapPre := streamPrefix(prefixSnapshot, tenant, stream)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: snapPre,
		UpperBound: versionKey(prefixSnapshot, tenant, stream, v+1)})
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	var snap []byte
	from := uint64(0)
	if it.Last() {
		from = binary.BigEndian.Uint64(it.Key()[len(snapPre):])
		snap = it.Value()
	}
	evPre := streamPrefix(prefixEvent, tenant, stream)
	evs, err := r.NewIter(&pebble.IterOptions{LowerBound: versionKey(prefixEvent, tenant, stream, from+1),
		UpperBound: versionKey(prefixEvent, tenant, stream, v+1)})
	if err != nil {
		return nil, 0, err
	}
	defer evs.Close()
	if !evs.First() {
		if err := evs.Error(); err != nil {
			return nil, 0, err
		}
		if from == 0 {
			return nil, 0, nil
		}
	}
	s := m.def.Seed()
	if snap != nil {
		if err := decodeSnapshot(snap, &s); err != nil {
			return nil, 0, err
		}
	}
	version := from
	for valid := evs.First(); valid; valid = evs.Next() {
		var se storedEvent
		if err := decodeStoredEvent(evs.Value(), &se); err != nil {
			return nil, 0, err
		}
		version = binary.BigEndian.Uint64(evs.Key()[len(evPre):])
		env := m.envelope(tenant, stream, version, &se)
		s = m.def.Apply(s, &env)
	}
	if err := evs.Error(); err != nil {
		return nil, 0, err
	}
	raw, err := s.AppendJSON(nil)
	return raw, version, err
}

// versionAt is the last version recorded at or before instant t: the
// kernel's RehydrateAt stops at the first event after t, so this is one
// before the first version whose running maximum event time is after t.
func (m *model) versionAt(r pebble.Reader, tenant, stream string, h *head, t time.Time) (uint64, error) {
	pre := streamPrefix(prefixInstant, tenant, stream)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: prefixEnd(pre)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.SeekGE(appendTime(slices.Clone(pre), t.Add(time.Nanosecond))) {
		return h.Version, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[len(pre)+timeLen:]) - 1, nil
}

// AuditEvent is one event of a schedule's audit log.
type AuditEvent struct {
	Version       uint64    `json:"version"`
	Type          string    `json:"type"`
	Time          time.Time `json:"time"`
	TenantID      string    `json:"tenantId"`
	ScheduleID    string    `json:"scheduleId"`
	Initiator     string    `json:"initiator,omitempty"`
	ProcessID     string    `json:"processId,omitempty"`
	PredecessorID string    `json:"predecessorId,omitempty"`
	// DataSchema is the schema version Data was written in. Data is
	// shown as it was recorded: the audit trail shows facts, not what
	// today's code makes of them.
	DataSchema int             `json:"dataSchema"`
	Data       json.RawMessage `json:"data"`
}

// events returns up to limit events after version after, in order, and
// whether more follow.
func (m *model) events(r pebble.Reader, tenant, stream string, after uint64, limit int) ([]AuditEvent, bool, error) {
	pre := streamPrefix(prefixEvent, tenant, stream)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: versionKey(prefixEvent, tenant, stream, after+1),
		UpperBound: prefixEnd(pre)})
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	out := []AuditEvent{}
	for it.First(); it.Valid(); it.Next() {
		if len(out) == limit {
			return out, true, nil
		}
		var se storedEvent
		if err := decodeStoredEvent(it.Value(), &se); err != nil {
			return nil, false, err
		}
		se.Data = slices.Clone(se.Data) // the iterator's memory is reused
		out = append(out, AuditEvent{Version: binary.BigEndian.Uint64(it.Key()[len(pre):]), Type: se.Type,
			Time: se.Time, TenantID: tenant, ScheduleID: stream, Initiator: se.Initiator, ProcessID: se.ProcessID,
			PredecessorID: se.PredecessorID, DataSchema: max(se.Schema, 1), Data: se.Data})
	}
	return out, false, it.Error()
}

// listFilter selects summaries in a scan.
type listFilter struct {
	from, to time.Time // the window; zero: no window
	status   schedule.Status
}

func (f *listFilter) match(x *Summary) bool {
	if f.status != "" && x.Status != f.status {
		return false
	}
	return f.from.IsZero() || x.overlaps(f.from, f.to)
}

// scan lists the summaries under prefix pre whose keys are in
// [lower, upper), resuming after cursor, and returns the cursor of the
// next page ("" at the end).
func (m *model) scan(r pebble.Reader, pre, lower, upper []byte, cursor string, limit int, f *listFilter) ([]Summary, string, error) {
	if cursor != "" {
		c, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(c) <= timeLen {
			return nil, "", errBadCursor
		}
		if after := append(append(slices.Clone(pre), c...), 0); string(after) > string(lower) {
			lower = after
		}
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	out := []Summary{}
	var last []byte
	for it.First(); it.Valid(); it.Next() {
		var x Summary
		if err := json.Unmarshal(it.Value(), &x); err != nil {
			return nil, "", fmt.Errorf("%w: summary: %w", errCorrupt, err)
		}
		if !f.match(&x) {
			continue
		}
		if len(out) == limit {
			return out, base64.RawURLEncoding.EncodeToString(last[len(pre):]), nil
		}
		out = append(out, x)
		last = append(last[:0], it.Key()...)
	}
	return out, "", it.Error()
}

var errBadCursor = errors.New("not one this service returned")

// schedules lists the schedules whose slot overlaps [from, to), by start.
func (m *model) schedules(r pebble.Reader, tenant string, f *listFilter, cursor string, limit int) ([]Summary, string, error) {
	mt, err := m.meta(r)
	if err != nil {
		return nil, "", err
	}
	pre := rangePrefix(tenant)
	// A slot starting up to MaxSpan before the window may still reach
	// into it; nothing starting earlier can.
	lower := appendTime(slices.Clone(pre), f.from.Add(-mt.MaxSpan-time.Nanosecond))
	upper := appendTime(slices.Clone(pre), f.to)
	return m.scan(r, pre, lower, upper, cursor, limit, f)
}

// visitorSchedules lists a visitor's schedules by start.
func (m *model) visitorSchedules(r pebble.Reader, tenant, visitor string, f *listFilter, cursor string, limit int) ([]Summary, string, error) {
	pre := visitorPrefix(tenant, visitor)
	return m.scan(r, pre, pre, prefixEnd(pre), cursor, limit, f)
}
