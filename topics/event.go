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
	h := []kgo.RecordHeader{
		{Key: HeaderSpecVersion, Value: []byte(SpecVersion)},
		{Key: HeaderID, Value: []byte(EventKey(e.Tenant, e.Stream, e.Version))},
		{Key: HeaderType, Value: []byte(e.Type)},
		{Key: HeaderSource, Value: []byte("rewind/processor")},
		{Key: HeaderSubject, Value: []byte(e.Stream)},
		{Key: HeaderTime, Value: []byte(e.Time.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderContentType, Value: []byte(ContentTypeJSON)},
		{Key: HeaderTenant, Value: []byte(e.Tenant)},
		{Key: HeaderInitiator, Value: []byte(e.Initiator)},
		{Key: HeaderPredecessorID, Value: []byte(e.PredecessorID)},
		{Key: HeaderSequence, Value: []byte(strconv.FormatUint(e.Version, 10))},
	}
	if e.ProcessID != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderProcessID, Value: []byte(e.ProcessID)})
	}
	if e.Schema > 1 {
		h = append(h, kgo.RecordHeader{Key: HeaderDataSchema, Value: []byte(DataSchema(e.Type, e.Schema))})
	}
	return &kgo.Record{
		Topic: Events, Partition: p, Key: []byte(EventKey(e.Tenant, e.Stream, e.Version)),
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
