package topics

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
)

// MaxCommandBytes is the largest command value accepted (64 KiB).
const MaxCommandBytes = 64 << 10

// maxCommandIDBytes bounds a command id, which is stored in the dedup index.
const maxCommandIDBytes = 256

// Codes of rejections raised while reading a command record, before any
// aggregate sees it.
const (
	CodeMisrouted       = "misrouted"        // on another partition than its key hashes to
	CodeInvalidKey      = "invalid_key"      // key is not <tenant>/<scheduleId> with valid ids
	CodeTooLarge        = "too_large"        // value over MaxCommandBytes
	CodeTenantMismatch  = "tenant_mismatch"  // ce_tenantid differs from the key's tenant
	CodeSubjectMismatch = "subject_mismatch" // ce_subject differs from the key's schedule id
	CodeInvalidHeader   = "invalid_header"   // a header with a bad value
)

// TypeErase is the type of the command that destroys a data subject's
// keys on one partition: ingest sends one to every partition, keyed
// "<tenant>/<subject>", with the data {"reason": "..."}. It addresses no
// stream, so it is not routed by its key; the processor handles it, not
// the aggregate, and answers with the subject's schedules on the
// partition (Result.Schedules). The name is no aggregate's command type:
// those are identifiers without a dot.
const TypeErase = "rewind.EraseSubject"

// Command is a command record, decoded and checked against the key.
type Command struct {
	Meta aggregate.Meta
	// Type is the command's type name (ce_type).
	Type string
	// Data is the command's JSON data.
	Data []byte
	// Routed is set when the key is valid and the record is on the
	// partition the key hashes to: the command belongs to a stream this
	// partition owns, even if it is rejected for another reason.
	Routed bool
}

// Fingerprint identifies what a command asks for: its type, its data and
// its expected version. A retry has the fingerprint of the first send; an
// id reused for another command has another (FNV-1a, 64 bits: this tells
// mistakes apart, it does not resist forgery, which needs the tenant's
// token anyway). It is never 0, which stores use for "unknown".
func (c Command) Fingerprint() uint64 {
	// FNV-1a written out: hash/fnv would allocate a hasher and a byte
	// slice per string on every command.
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	add := func(b byte) { h = (h ^ uint64(b)) * prime }
	for i := range len(c.Type) {
		add(c.Type[i])
	}
	add(0)
	for _, b := range c.Data {
		add(b)
	}
	add(0)
	if c.Meta.HasExpectedVersion {
		var digits [20]byte
		for _, b := range strconv.AppendUint(digits[:0], c.Meta.ExpectedVersion, 10) {
			add(b)
		}
	}
	return max(h, 1)
}

// CommandRecord builds the record for a command, with binary-mode
// CloudEvents headers. The partition is left to the producer's
// partitioner (murmur2 of the key).
func CommandRecord(typ string, m aggregate.Meta, data []byte) *kgo.Record {
	h := []kgo.RecordHeader{
		{Key: HeaderSpecVersion, Value: []byte(SpecVersion)},
		{Key: HeaderID, Value: []byte(m.ID)},
		{Key: HeaderType, Value: []byte(typ)},
		{Key: HeaderSource, Value: []byte("rewind/ingest")},
		{Key: HeaderSubject, Value: []byte(m.Stream)},
		{Key: HeaderTime, Value: []byte(m.Time.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderContentType, Value: []byte(ContentTypeJSON)},
		{Key: HeaderTenant, Value: []byte(m.Tenant)},
		{Key: HeaderInitiator, Value: []byte(m.Initiator)},
	}
	if m.ProcessID != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderProcessID, Value: []byte(m.ProcessID)})
	}
	if m.HasExpectedVersion {
		h = append(h, kgo.RecordHeader{Key: HeaderExpectedVersion, Value: []byte(strconv.FormatUint(m.ExpectedVersion, 10))})
	}
	return &kgo.Record{Topic: Commands, Key: []byte(StreamKey(m.Tenant, m.Stream)), Value: data, Headers: h}
}

// EraseRecords are the records of an erasure of a data subject (TypeErase),
// one on each of partitions: m names the subject in place of a stream,
// and m.ID is suffixed with the partition ("<id>.p<n>"), each record's
// own id, so that ingest waits for one result per partition.
func EraseRecords(m aggregate.Meta, reason string, partitions int32) []*kgo.Record {
	data, _ := json.Marshal(struct {
		Reason string `json:"reason,omitempty"`
	}{reason})
	recs := make([]*kgo.Record, partitions)
	id := m.ID
	for p := range partitions {
		m.ID = EraseID(id, p)
		recs[p] = CommandRecord(TypeErase, m, data)
		recs[p].Partition = p
	}
	return recs
}

// EraseID is the command id of an erasure's record on partition p.
func EraseID(id string, p int32) string { return id + ".p" + strconv.Itoa(int(p)) }

// DecodeCommand reads a command record: the key, the CloudEvents headers
// (binary mode) or envelope (structured mode), and checks that the record
// is on the partition its key hashes to among partitions. A record without
// ce_id gets the id <topic>/<partition>/<offset>. Every error is an
// *aggregate.Rejection; tenant and stream are filled in whenever the key
// was valid, so the caller can still address a result.
func DecodeCommand(r *kgo.Record, partitions int32) (Command, error) {
	var c Command
	c.Meta.Time = r.Timestamp.UTC()
	c.Data = r.Value
	var h commandHeaders
	structErr := readCommandHeaders(r, &h, &c)
	// The id comes first, so that even a record with a bad key gets a
	// result its sender can find.
	var idOK bool
	if c.Meta.ID, idOK = commandID(r, h[hID]); !idOK {
		return c, aggregate.Reject(aggregate.CodeInvalidID, "ce_id is longer than %d bytes or contains NUL", maxCommandIDBytes)
	}
	tenant, stream, ok := ParseStreamKey(r.Key)
	if !ok {
		return c, aggregate.Reject(CodeInvalidKey, "key must be <tenant>/<scheduleId>, each matching %s", aggregate.IDPattern)
	}
	c.Meta.Tenant, c.Meta.Stream = tenant, stream
	if want := partitionOf(r.Key, partitions); want != r.Partition && string(h[hType]) != TypeErase {
		return c, aggregate.Reject(CodeMisrouted, "the key hashes to partition %d with murmur2, Kafka's default partitioner, "+
			"but the record is on partition %d: set the producer's partitioner to murmur2 "+
			"(librdkafka clients: partitioner=murmur2_random; kafkajs: the default, or "+
			"Partitioners.DefaultPartitioner; Java and franz-go: the default) and the command will be applied", want, r.Partition)
	}
	c.Routed = true
	if len(r.Value) > MaxCommandBytes {
		return c, aggregate.Reject(CodeTooLarge, "command is %d bytes, at most %d", len(r.Value), MaxCommandBytes)
	}
	if structErr != nil {
		return c, structErr
	}
	return c, c.applyHeaders(&h)
}

// The headers a command is read from, as indexes of commandHeaders.
const (
	hID = iota
	hType
	hSubject
	hTime
	hContentType
	hTenant
	hInitiator
	hProcessID
	hExpectedVersion
	numCommandHeaders
)

// commandHeader is the index of a header a command is read from, or -1.
// A switch on strings compiles to a search by length and content, not a
// comparison with each name.
func commandHeader(key string) int {
	switch key {
	case HeaderID:
		return hID
	case HeaderType:
		return hType
	case HeaderSubject:
		return hSubject
	case HeaderTime:
		return hTime
	case HeaderContentType:
		return hContentType
	case HeaderTenant:
		return hTenant
	case HeaderInitiator:
		return hInitiator
	case HeaderProcessID:
		return hProcessID
	case HeaderExpectedVersion:
		return hExpectedVersion
	}
	return -1
}

// commandHeaders are the values of the headers a command is read from,
// not copied: a record has a dozen headers, and only the values a Meta
// keeps become strings.
type commandHeaders [numCommandHeaders][]byte

// readHeaders reads the headers into h; the first of a repeated key
// wins, so a later copy cannot override it.
func readHeaders(h *commandHeaders, hs []kgo.RecordHeader) {
	var seen [numCommandHeaders]bool
	for _, hd := range hs {
		if i := commandHeader(hd.Key); i >= 0 && !seen[i] {
			seen[i], h[i] = true, hd.Value
		}
	}
}

// readCommandHeaders reads the headers into h, and a structured-mode
// envelope's attributes and data (into c) when the content type says so.
// h is the caller's: returning it by value made DecodeCommand 5% slower.
func readCommandHeaders(r *kgo.Record, h *commandHeaders, c *Command) error {
	readHeaders(h, r.Headers)
	if bytes.HasPrefix(h[hContentType], []byte(ContentTypeCloudEvent)) && len(r.Value) <= MaxCommandBytes {
		return fromStructured(r.Value, h, c)
	}
	return nil
}

// CommandID is the id DecodeCommand gives a command record, for a
// reader that checks the processor's results against the commands (a
// test, an audit) without decoding the rest.
func CommandID(r *kgo.Record) string {
	var c Command
	var h commandHeaders
	_ = readCommandHeaders(r, &h, &c)
	id, _ := commandID(r, h[hID])
	return id
}

// commandID is ce_id, or where it is empty the record's position; ok is
// false for an id over maxCommandIDBytes or holding NUL, which is
// rejected (and answered under the position).
func commandID(r *kgo.Record, id []byte) (_ string, ok bool) {
	if len(id) > maxCommandIDBytes || bytes.IndexByte(id, 0) >= 0 {
		return positionID(r), false
	}
	if len(id) == 0 {
		return positionID(r), true
	}
	return string(id), true
}

// positionID is the id of a command sent without ce_id: where it is.
func positionID(r *kgo.Record) string {
	return r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10)
}

func (c *Command) applyHeaders(h *commandHeaders) error {
	c.Type = string(h[hType])
	if c.Type == "" {
		return aggregate.Reject(aggregate.CodeMissingField, "ce_type is required")
	}
	if t := h[hTenant]; len(t) > 0 && string(t) != c.Meta.Tenant {
		return aggregate.Reject(CodeTenantMismatch, "ce_tenantid differs from the key's tenant")
	}
	if s := h[hSubject]; len(s) > 0 && string(s) != c.Meta.Stream {
		return aggregate.Reject(CodeSubjectMismatch, "ce_subject differs from the key's schedule id")
	}
	if t := h[hTime]; len(t) > 0 {
		at, err := time.Parse(time.RFC3339Nano, string(t))
		if err != nil {
			return aggregate.Reject(CodeInvalidHeader, "ce_time is not RFC 3339")
		}
		c.Meta.Time = at.UTC()
	}
	c.Meta.Initiator = string(h[hInitiator])
	c.Meta.ProcessID = string(h[hProcessID])
	if v := h[hExpectedVersion]; len(v) > 0 {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return aggregate.Reject(CodeInvalidHeader, "ce_expectedversion is not a version number")
		}
		c.Meta.ExpectedVersion, c.Meta.HasExpectedVersion = n, true
	}
	return nil
}

// structured is a CloudEvent in structured mode.
type structured struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	TenantID        string          `json:"tenantid"`
	Initiator       string          `json:"initiator"`
	ProcessID       string          `json:"processid"`
	ExpectedVersion json.RawMessage `json:"expectedversion"`
	Data            json.RawMessage `json:"data"`
}

// fromStructured moves a structured-mode envelope's attributes into h
// (binary-mode headers win when both are present) and its data into c.
func fromStructured(value []byte, h *commandHeaders, c *Command) error {
	var s structured
	if err := aggregate.DecodeLenient(value, &s); err != nil {
		return err
	}
	set := func(dst *[]byte, v string) {
		if v != "" && len(*dst) == 0 {
			*dst = []byte(v)
		}
	}
	set(&h[hID], s.ID)
	set(&h[hType], s.Type)
	set(&h[hSubject], s.Subject)
	set(&h[hTime], s.Time)
	set(&h[hTenant], s.TenantID)
	set(&h[hInitiator], s.Initiator)
	set(&h[hProcessID], s.ProcessID)
	if ev := bytes.Trim(s.ExpectedVersion, `"`); len(ev) > 0 && string(ev) != "null" {
		set(&h[hExpectedVersion], string(ev))
	}
	c.Data = s.Data
	return nil
}

// CommandPartitioner is the partitioner of a producer of commands: Kafka's
// default (murmur2 of the key, as every client's default), except for an
// erasure's records (TypeErase), which name their partitions themselves.
func CommandPartitioner() kgo.Partitioner { return commandPartitioner{kgo.StickyKeyPartitioner(nil)} }

type commandPartitioner struct{ keyed kgo.Partitioner }

func (p commandPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return commandTopicPartitioner{p.keyed.ForTopic(topic)}
}

type commandTopicPartitioner struct{ keyed kgo.TopicPartitioner }

func (p commandTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return isErase(r) || p.keyed.RequiresConsistency(r)
}

func (p commandTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if isErase(r) {
		return int(r.Partition)
	}
	return p.keyed.Partition(r, n)
}

// isErase reports whether a record is an erasure's (its ce_type).
func isErase(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == HeaderType {
			return string(h.Value) == TypeErase
		}
	}
	return false
}
