// Package api holds what Rewind's HTTP services share: bearer tokens
// (stored as SHA-256 digests, compared in constant time) mapping to a
// tenant and a subject, and RFC 9457 problem documents with stable codes.
package api
