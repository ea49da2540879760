package topics

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
)

// The statuses of a result.
const (
	StatusAccepted  = "accepted"
	StatusRejected  = "rejected"
	StatusDuplicate = "duplicate"
)

// CodeIdempotencyKeyReused is the processor's rejection of a command
// whose id the stream remembers for another request (another type, data
// or expected version). Answering it as a duplicate would tell the
// sender that a command ran which never did.
const CodeIdempotencyKeyReused = "idempotency_key_reused"

// Result is the outcome of one command record, the value of a
// schedule-results record.
type Result struct {
	CommandID  string `json:"commandId"`
	TenantID   string `json:"tenantId,omitempty"`
	ScheduleID string `json:"scheduleId,omitempty"`
	// Status is accepted, rejected or duplicate.
	Status string `json:"status" enum:"accepted,rejected,duplicate"`
	// FirstStatus, on a duplicate, is the first outcome's status.
	FirstStatus string `json:"firstStatus,omitempty" enum:"accepted,rejected" doc:"on a duplicate, the first outcome's status"`
	// Code is the rejection code of a rejection (or of the first outcome
	// of a duplicate).
	Code    string `json:"code,omitempty" doc:"the rejection code (of the first outcome, on a duplicate)"`
	Message string `json:"message,omitempty" doc:"what to fix, for people"`
	// Version is the stream's version after the command (accepted) or
	// when it was rejected.
	Version uint64        `json:"version" doc:"the stream's version after the command (accepted) or when it was rejected"`
	Events  []ResultEvent `json:"events,omitempty" doc:"the events an accepted command recorded"`
	// Schedules, for an erasure (TypeErase), counts the data subject's
	// schedules on the partition.
	Schedules int `json:"schedules,omitempty" doc:"for an erasure, the data subject's schedules on the partition"`
	// Fingerprint is the command's fingerprint, carried in a header
	// (HeaderFingerprint) when not zero.
	Fingerprint uint64 `json:"-"`
}

// Own reports whether r is what its command itself came to, accepted or
// rejected: not a retry's answer (duplicate) nor a refused reuse of the
// id. Only an own outcome is remembered as the command's, by the
// processor, a restore, the replay preview and ingest's outcome lookups.
func (r *Result) Own() bool {
	return r.Status != StatusDuplicate && r.Code != CodeIdempotencyKeyReused
}

// ResultEvent names one event a command produced.
type ResultEvent struct {
	Type    string `json:"type"`
	Version uint64 `json:"version"`
}

// ResultSource is the ce_source of every result record.
const ResultSource = "rewind/processor"

// ResultRecord builds the record of a result on partition p. key is the
// command's key (as received, truncated when hostile).
func ResultRecord(res *Result, key []byte, p int32) *kgo.Record {
	a := newArena(224 + 2*(len(res.CommandID)+len(res.TenantID)) + len(res.ScheduleID) + len(res.Code) + len(res.Message))
	data := a.addWith(res.AppendJSON)
	if len(key) > 200 {
		key = key[:200]
	}
	// A result is a CloudEvent like an event: the SDKs' validate() needs
	// specversion, id, source and type.
	h := make([]kgo.RecordHeader, 6, 7)
	h[0] = kgo.RecordHeader{Key: HeaderSpecVersion, Value: specVersionValue}
	h[1] = kgo.RecordHeader{Key: HeaderID, Value: a.add(res.CommandID)}
	h[2] = kgo.RecordHeader{Key: HeaderType, Value: resultTypeValues[res.Status]}
	h[3] = kgo.RecordHeader{Key: HeaderSource, Value: sourceValue}
	h[4] = kgo.RecordHeader{Key: HeaderTenant, Value: a.add(res.TenantID)}
	h[5] = kgo.RecordHeader{Key: HeaderContentType, Value: jsonValue}
	if res.Fingerprint != 0 {
		h = append(h, kgo.RecordHeader{Key: HeaderFingerprint, Value: a.addWith(func(b []byte) []byte { return fmt.Appendf(b, "%016x", res.Fingerprint) })})
	}
	return &kgo.Record{Topic: Results, Partition: p, Key: key, Value: data, Headers: h}
}

// ResultFingerprint reads the command fingerprint of a result record; 0
// when it has none (written before fingerprints, or a duplicate).
func ResultFingerprint(r *kgo.Record) uint64 {
	for _, h := range r.Headers {
		if h.Key == HeaderFingerprint {
			fp, err := strconv.ParseUint(string(h.Value), 16, 64)
			if err != nil {
				return 0
			}
			return fp
		}
	}
	return 0
}

// The ce_type of a result record names its status, so readers that need
// only the status and the command id (restore, waiters) skip the JSON.
var resultTypes = map[string]string{
	StatusAccepted:  "CommandAccepted",
	StatusRejected:  "CommandRejected",
	StatusDuplicate: "CommandDuplicate",
}

// ResultHead reads a result record's command id and status from its
// headers. ok is false for a record without them; decode its value then.
func ResultHead(r *kgo.Record) (commandID, status string, ok bool) {
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderID:
			commandID = string(h.Value)
		case HeaderType:
			for st, typ := range resultTypes {
				if string(h.Value) == typ {
					status = st
				}
			}
		}
	}
	return commandID, status, commandID != "" && status != ""
}

// DecodeResult reads the value of a result record.
func DecodeResult(value []byte) (Result, error) {
	var res Result
	err := json.Unmarshal(value, &res)
	return res, err
}

// AppendJSON appends the result's JSON, byte for byte what encoding/json
// writes, at a fraction of the cost: the processor encodes one result per
// command.
func (r *Result) AppendJSON(b []byte) []byte {
	b = append(b, `{"commandId":`...)
	b = aggregate.AppendJSONString(b, r.CommandID)
	field := func(name, v string) {
		if v != "" {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = aggregate.AppendJSONString(b, v)
		}
	}
	field("tenantId", r.TenantID)
	field("scheduleId", r.ScheduleID)
	b = append(b, `,"status":`...)
	b = aggregate.AppendJSONString(b, r.Status)
	field("firstStatus", r.FirstStatus)
	field("code", r.Code)
	field("message", r.Message)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, r.Version, 10)
	if len(r.Events) > 0 {
		b = append(b, `,"events":[`...)
		for i, e := range r.Events {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = aggregate.AppendJSONString(b, e.Type)
			b = append(b, `,"version":`...)
			b = strconv.AppendUint(b, e.Version, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if r.Schedules > 0 {
		b = append(b, `,"schedules":`...)
		b = strconv.AppendInt(b, int64(r.Schedules), 10)
	}
	return append(b, '}')
}
