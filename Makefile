# Rewind — run `make` for the list of targets.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(shell go env GOPATH 2>/dev/null)/bin
GO ?= go
BIN := bin
# Tests that start brokers and processes get generous timeouts on 2 cores.
TEST_TIMEOUT ?= 15m
TESTFLAGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every binary into ./bin
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: run
run: build ## run devkafka and the processor on ./data (Ctrl-C stops both)
	@mkdir -p data
	@trap 'kill 0' INT TERM EXIT; \
	if [ -z "$$REWIND_BROKERS" ]; then \
		$(BIN)/devkafka -addr 127.0.0.1:9092 -data-dir data/kafka & \
		export REWIND_BROKERS=127.0.0.1:9092; sleep 1; \
	fi; \
	$(BIN)/processor -instance-id local-1 -data-dir data/processor -http 127.0.0.1:8081 & \
	echo "processor metrics: http://127.0.0.1:8081/metrics  (ingest and query come with their issues)"; \
	wait

.PHONY: demo
demo: ## walk one visit through the pure domain, with time travel
	$(GO) run ./cmd/demo

.PHONY: test
test: ## run every test (fetches its own dependencies)
	$(GO) mod download
	$(GO) tool gotestsum --format testname -- -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

.PHONY: fuzz
fuzz: ## fuzz the command decoder and random command sequences for a while
	$(GO) test -run '^$$' -fuzz FuzzDecodeCommand -fuzztime 60s ./aggregate/schedule
	$(GO) test -run '^$$' -fuzz FuzzSequence -fuzztime 60s ./aggregate/schedule

.PHONY: bench
bench: build ## print the performance numbers (devkafka as a separate process)
	$(BIN)/bench -bin $(BIN)

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...

.PHONY: clean
clean: ## remove build output and local data
	rm -rf $(BIN) data
