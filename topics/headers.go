package topics

import (
	"strconv"
	"strings"
)

// CloudEvents 1.0 Kafka binary-mode header names, and Rewind's extensions.
const (
	HeaderSpecVersion     = "ce_specversion"
	HeaderID              = "ce_id"
	HeaderType            = "ce_type"
	HeaderSource          = "ce_source"
	HeaderSubject         = "ce_subject"
	HeaderTime            = "ce_time"
	HeaderContentType     = "content-type"
	HeaderTenant          = "ce_tenantid"
	HeaderInitiator       = "ce_initiator"
	HeaderProcessID       = "ce_processid"
	HeaderPredecessorID   = "ce_predecessorid"
	HeaderSequence        = "ce_sequence"
	HeaderExpectedVersion = "ce_expectedversion"
	// HeaderDataSchema, on an event whose data is in a schema version
	// above 1, names that version (see [DataSchema]). CloudEvents'
	// dataschema attribute identifies the schema data adheres to and
	// changes with every incompatible change, which is what a version
	// is; SDKs expose it, so consumers can route on it.
	HeaderDataSchema = "ce_dataschema"
	// HeaderFingerprint, on a result, is the fingerprint of the command
	// (see [Command.Fingerprint]) as 16 hex digits: a cold restore needs
	// it to tell a retry from a reused id. It is not a CloudEvents
	// attribute.
	HeaderFingerprint = "rewind_fingerprint"
	// HeaderSignature, on an erasure (TypeErase), is its signature by an
	// erasure key (SignErasure): the processor carries out only signed
	// erasures.
	HeaderSignature = "rewind_signature"
)

// Content types.
const (
	ContentTypeJSON       = "application/json"
	ContentTypeCloudEvent = "application/cloudevents+json"
)

// SpecVersion is the CloudEvents version Rewind speaks.
const SpecVersion = "1.0"

// DataSchema is the ce_dataschema of an event type's data in schema
// version v: urn:rewind:schedule:<type>:v<n>. Events in version 1 carry
// none, so every event written before versions existed reads as 1.
func DataSchema(typ string, v int) string {
	return "urn:rewind:schedule:" + typ + ":v" + strconv.Itoa(v)
}

// ParseDataSchema is the version a ce_dataschema names, or 1 when it
// names none.
func ParseDataSchema(s string) int {
	i := strings.LastIndex(s, ":v")
	if i < 0 {
		return 1
	}
	v, err := strconv.Atoi(s[i+2:])
	if err != nil || v < 1 {
		return 1
	}
	return v
}
