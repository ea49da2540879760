package topics

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
	// HeaderFingerprint, on a result, is the fingerprint of the command
	// (see [Command.Fingerprint]) as 16 hex digits: a cold restore needs
	// it to tell a retry from a reused id. It is not a CloudEvents
	// attribute.
	HeaderFingerprint = "rewind_fingerprint"
)

// Content types.
const (
	ContentTypeJSON       = "application/json"
	ContentTypeCloudEvent = "application/cloudevents+json"
)

// SpecVersion is the CloudEvents version Rewind speaks.
const SpecVersion = "1.0"
