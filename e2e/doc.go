// Package e2e holds end-to-end tests that run Rewind's real binaries
// together: graceful shutdown under load (part of `make test`), and, with
// the e2e build tag (`make e2e`), a real Prometheus scraping all three
// services and the Kafka clients of other teams (kcat, confluent-kafka
// for Python, kafkajs) sending commands and reading events.
package e2e
