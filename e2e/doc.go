// Package e2e holds end-to-end tests that run Rewind's real binaries
// together: graceful shutdown under load (part of `make test`), and, with
// the e2e build tag, a real Prometheus scraping all three services
// (`make e2e`).
package e2e
