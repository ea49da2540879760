package topics

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
)

// EventRecord builds the record of one event on partition p. data is the
// event's encoded JSON.
func EventRecord(e *aggregate.Envelope, data []byte, p int32) *kgo.Record {
	a := newArena(96 + 2*(len(e.Tenant)+len(e.Stream)) + len(e.Type) + len(e.Initiator) + len(e.PredecessorID) + len(e.ProcessID))
	key := a.addWith(func(b []byte) []byte { return appendEventKey(b, e.Tenant, e.Stream, e.Version) })
	h := make([]kgo.RecordHeader, 11, 13)
	h[0] = kgo.RecordHeader{Key: HeaderSpecVersion, Value: specVersionValue}
	h[1] = kgo.RecordHeader{Key: HeaderID, Value: key}
	h[2] = kgo.RecordHeader{Key: HeaderType, Value: a.add(e.Type)}
	h[3] = kgo.RecordHeader{Key: HeaderSource, Value: sourceValue}
	h[4] = kgo.RecordHeader{Key: HeaderSubject, Value: a.add(e.Stream)}
	h[5] = kgo.RecordHeader{Key: HeaderTime, Value: a.addWith(func(b []byte) []byte { return e.Time.UTC().AppendFormat(b, time.RFC3339Nano) })}
	h[6] = kgo.RecordHeader{Key: HeaderContentType, Value: jsonValue}
	h[7] = kgo.RecordHeader{Key: HeaderTenant, Value: a.add(e.Tenant)}
	h[8] = kgo.RecordHeader{Key: HeaderInitiator, Value: a.add(e.Initiator)}
	h[9] = kgo.RecordHeader{Key: HeaderPredecessorID, Value: a.add(e.PredecessorID)}
	h[10] = kgo.RecordHeader{Key: HeaderSequence, Value: a.addWith(func(b []byte) []byte { return strconv.AppendUint(b, e.Version, 10) })}
	if e.ProcessID != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderProcessID, Value: a.add(e.ProcessID)})
	}
	if e.Schema > 1 {
		h = append(h, kgo.RecordHeader{Key: HeaderDataSchema, Value: a.add(DataSchema(e.Type, e.Schema))})
	}
	return &kgo.Record{
		Topic: Events, Partition: p, Key: key,
		Value: data, Headers: h, Timestamp: e.Time,
	}
}

// Event is an event record's metadata with its data still encoded.
type Event struct {
	aggregate.Envelope
	// Raw is the event's JSON data; Envelope.Data is not decoded.
	Raw []byte
	// Tombstone is set for an erased event (nil value).
	Tombstone bool
}

// DecodeEvent reads an event record's key and headers.
func DecodeEvent(r *kgo.Record) (Event, error) {
	var e Event
	tenant, stream, version, ok := ParseEventKey(r.Key)
	if !ok {
		return e, aggregate.Reject(CodeInvalidKey, "event key must be <tenant>/<scheduleId>/<version>")
	}
	e.Tenant, e.Stream, e.Version = tenant, stream, version
	if r.Value == nil {
		e.Tombstone = true
		return e, nil
	}
	e.Raw = r.Value
	e.Time = r.Timestamp.UTC()
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderType:
			e.Type = v
		case HeaderTime:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				e.Time = t.UTC()
			}
		case HeaderInitiator:
			e.Initiator = v
		case HeaderProcessID:
			e.ProcessID = v
		case HeaderPredecessorID:
			e.PredecessorID = v
		case HeaderDataSchema:
			e.Schema = ParseDataSchema(v)
		}
	}
	if e.Type == "" {
		return e, aggregate.Reject(aggregate.CodeMissingField, "event without ce_type")
	}
	return e, nil
}
