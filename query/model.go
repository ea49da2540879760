package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/kv"
)

// model is the Pebble read model. Reads are safe for concurrent use with
// one writer (the consumer loop).
type model struct {
	db            *pebble.DB
	def           *aggregate.Definition[schedule.State]
	snapshotEvery int
}

// meta is the model-wide record.
type meta struct {
	// Logic is the logic version the model was folded with.
	Logic int `json:"logic"`
	// Format is the layout of the model's keys and values (modelFormat).
	Format int `json:"format"`
	// MaxSpan is the longest slot indexed so far; range scans start this
	// far before the window, so that a long slot starting earlier is found.
	MaxSpan time.Duration `json:"maxSpan"`
}

// head is where a stream stands and what the indexes hold for it. Its
// current state is kept under a key of its own (stateKey): every request
// reads the head, and a state of thousands of photo sessions would make
// each of them decode hundreds of kilobytes.
type head struct {
	Version uint64 `json:"v"`
	// MaxTime is the latest event time up to Version (instants index).
	MaxTime time.Time `json:"m"`
	// Snap is the version of the newest snapshot; Since, the events
	// folded after it.
	Snap  uint64 `json:"s,omitempty"`
	Since int    `json:"n,omitempty"`
	// Erasures counts the events erased from the stream: an erasure
	// changes states without a new version, so it is part of the ETag.
	Erasures int `json:"e,omitempty"`
	// Indexed is the summary the range and visitor indexes hold, if any.
	Indexed *Summary `json:"x,omitempty"`
}

// visitor is the stream's visitor, if it has one.
func (h *head) visitor() string {
	if h.Indexed == nil {
		return ""
	}
	return h.Indexed.VisitorID
}

// Summary is one schedule in a list: the range and visitor indexes hold it.
type Summary struct {
	ScheduleID string          `json:"scheduleId"`
	Status     schedule.Status `json:"status"`
	VisitorID  string          `json:"visitorId,omitempty"`
	// Start and End are the slot: the reservation, or for a walk-in the
	// time from check-in to check-out (End is zero while still there).
	Start   time.Time `json:"start,omitzero"`
	End     time.Time `json:"end,omitzero"`
	WalkIn  bool      `json:"walkIn,omitempty"`
	Version uint64    `json:"version"`
}

// storedEvent is one event of the audit log (encoded by encode, not JSON).
type storedEvent struct {
	Type, Initiator, ProcessID, PredecessorID string
	Time                                      time.Time
	// Schema is the schema version Data was written in: it stays as
	// written, and is upcast whenever it is folded.
	Schema int
	Data   json.RawMessage
}

// modelFormat is the version of the model's layout: a model written in
// another (by older code) is rebuilt, as for a new logic version.
// 2: snapshots hold aggregate.Lists; 3: current states apart from heads;
// 4: stored events keep their schema version; 5: snapshots in the
// aggregate's state codec, not gob; 6: the activity indexes.
const modelFormat = 6

var errCorrupt = errors.New("query: read model value cannot be decoded (rebuild by deleting the data dir)")

// openModel opens the model in dir, wiping one built by another logic
// version or layout. It reports whether the model is rebuilding: it
// replaced one, now or before a restart, and has not caught up since.
func openModel(dir string, def *aggregate.Definition[schedule.State], logic, snapshotEvery int) (*model, bool, error) {
	db, err := kv.Open(dir, kv.Options{CacheBytes: 64 << 20, MemTableBytes: 16 << 20}, nil)
	if err != nil {
		return nil, false, fmt.Errorf("query: %w", err)
	}
	m := &model{db: db, def: def, snapshotEvery: snapshotEvery}
	mt, err := m.meta(db)
	if err != nil {
		db.Close()
		return nil, false, err
	}
	rebuilding, err := has(db, rebuildingKey)
	if err != nil {
		db.Close()
		return nil, false, err
	}
	if mt.Logic != logic || mt.Format != modelFormat {
		// Built by other fold logic (or new): everything derived goes,
		// and the consumer starts again from offset 0.
		rebuilding = mt.Logic != 0 // not a new model
		b := db.NewBatch()
		if err := b.DeleteRange([]byte{0}, []byte{0xff}, nil); err != nil {
			db.Close()
			return nil, false, err
		}
		if err := b.Set(metaKey, mustJSON(meta{Logic: logic, Format: modelFormat}), nil); err != nil {
			db.Close()
			return nil, false, err
		}
		if rebuilding {
			// Until it has caught up, across restarts, the model answers
			// 503 rebuilding rather than a partial read model.
			if err := b.Set(rebuildingKey, nil, nil); err != nil {
				db.Close()
				return nil, false, err
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			db.Close()
			return nil, false, fmt.Errorf("query: reset model: %w", err)
		}
	}
	return m, rebuilding, nil
}

func (m *model) close() error { return m.db.Close() }

// rebuilt clears the rebuilding mark once the model has caught up.
func (m *model) rebuilt() error { return m.db.Delete(rebuildingKey, pebble.Sync) }

func has(r pebble.Reader, key []byte) (bool, error) { return kv.Get(r, key, nil) }

func (m *model) meta(r pebble.Reader) (meta, error) {
	var mt meta
	ok, err := getJSON(r, metaKey, &mt)
	if err != nil || !ok {
		return meta{}, err
	}
	return mt, nil
}

func (m *model) checkpoint(p int32) (int64, error) {
	next, err := kv.GetOffset(m.db, prefixCheckpoint, p)
	if errors.Is(err, kv.ErrCorrupt) {
		return 0, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return next, err
}

func (m *model) head(r pebble.Reader, tenant, stream string) (head, bool, error) {
	var h head
	ok, err := getJSON(r, headKey(tenant, stream), &h)
	return h, ok, err
}

// currentState is the stream's current state as JSON.
func (m *model) currentState(r pebble.Reader, tenant, stream string) (json.RawMessage, error) {
	raw, closer, err := r.Get(stateKey(tenant, stream))
	if err != nil {
		return nil, fmt.Errorf("%w: head without a state: %w", errCorrupt, err)
	}
	defer closer.Close()
	return slices.Clone(raw), nil
}

func getJSON(r pebble.Reader, key []byte, v any) (bool, error) {
	found, err := kv.Get(r, key, func(raw []byte) error {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%w: %w", errCorrupt, err)
		}
		return nil
	})
	return found && err == nil, err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only types of this package, which always encode
	}
	return b
}

// envelope rebuilds the kernel's envelope of a stored event, decoding its
// data. Data that does not decode (an event of a type this code does not
// know, or one it cannot read) stays nil: handlers then leave the state
// as it is, as the processor does.
func (m *model) envelope(tenant, stream string, v uint64, e *storedEvent) aggregate.Envelope {
	env := aggregate.Envelope{Type: e.Type, Schema: e.Schema, Version: v, Time: e.Time, Tenant: tenant, Stream: stream,
		Initiator: e.Initiator, ProcessID: e.ProcessID, PredecessorID: e.PredecessorID}
	if data, err := m.def.DecodeEvent(e.Type, e.Schema, e.Data); err == nil {
		env.Data = data
	}
	return env
}

// summarize is what the indexes hold for a state, or nil when it has no
// slot (nothing to find it by time) and no visitor.
func summarize(stream string, s *schedule.State, version uint64) *Summary {
	x := &Summary{ScheduleID: stream, Status: s.Status, VisitorID: s.VisitorID, Version: version}
	switch {
	case !s.Reservation.Start.IsZero():
		x.Start, x.End = s.Reservation.Start, s.Reservation.End
	case !s.CheckIn.At.IsZero():
		x.Start, x.End, x.WalkIn = s.CheckIn.At, s.CheckedOutAt, true
	}
	if x.Start.IsZero() && x.VisitorID == "" {
		return nil
	}
	return x
}

// overlaps reports whether a slot overlaps [from, to). An open walk-in
// (no end yet) is a point at its check-in.
func (x *Summary) overlaps(from, to time.Time) bool {
	if !x.Start.Before(to) {
		return false
	}
	if x.End.After(x.Start) {
		return x.End.After(from)
	}
	return !x.Start.Before(from)
}
