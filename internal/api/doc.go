// Package api holds what Rewind's HTTP services share: bearer tokens
// (stored as SHA-256 digests, compared in constant time, scoped read
// and/or write, re-read when the file changes) mapping to a tenant and a
// subject, RFC 9457 problem documents and the catalogue of their stable
// codes with their HTTP statuses (codes.go), the parsers of
// the Authorization and If-Match headers, the bound on requests that
// wait, and the HTTP toolkit of both services (http.go): JSON answers,
// the OpenAPI handler, and the request metrics middleware with its status
// recorder, which keeps http.Flusher working for streamed answers.
package api
