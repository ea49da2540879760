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
run: build ## run devkafka, the processor and ingest on ./data (Ctrl-C stops all)
	@mkdir -p data
	@if [ ! -f data/tokens ]; then \
		token=$$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'); \
		echo "$$token" > data/dev-token; chmod 600 data/dev-token; \
		echo "# dev token for make run; the token itself is in data/dev-token" > data/tokens; \
		echo "$$(printf %s "$$token" | sha256sum | cut -d' ' -f1) clinic-dev dev-user" >> data/tokens; \
	fi
	@trap 'kill 0' INT TERM EXIT; \
	if [ -z "$$REWIND_BROKERS" ]; then \
		$(BIN)/devkafka -addr 127.0.0.1:9092 -data-dir data/kafka & \
		export REWIND_BROKERS=127.0.0.1:9092; sleep 1; \
	fi; \
	$(BIN)/processor -instance-id local-1 -data-dir data/processor -http 127.0.0.1:8081 & \
	sleep 1; $(BIN)/ingest -http 127.0.0.1:8080 -tokens data/tokens & \
	sleep 1; token=$$(cat data/dev-token); \
	echo; echo "ingest    http://127.0.0.1:8080   processor metrics http://127.0.0.1:8081/metrics"; \
	echo "dev token $$token"; echo; \
	echo "curl -s -XPOST -H 'Authorization: Bearer $$token' http://127.0.0.1:8080/v1/schedules/visit-1/commands/Reserve \\"; \
	echo "  -d '{\"visitorId\":\"v-1\",\"start\":\"2026-03-02T10:00:00Z\",\"end\":\"2026-03-02T11:00:00Z\"}'"; \
	echo "curl -s -XPOST -H 'Authorization: Bearer $$token' http://127.0.0.1:8080/v1/schedules/visit-1/commands/CheckIn -d '{\"channel\":\"kiosk\"}'"; \
	echo "(time travel lands with the query service)"; echo; \
	wait

.PHONY: demo
demo: ## walk one visit through the pure domain, with time travel
	$(GO) run ./cmd/demo

.PHONY: deps
deps: ## install what the tests need besides Go: Debian's chromium for the UI test (as root)
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's chromium for the UI test"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
			{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
		else \
			echo "chromium is missing: install it (apt-get install chromium) or set REWIND_SKIP_BROWSER=1"; \
		fi; \
	fi
	$(GO) mod download

.PHONY: test
test: deps ## run every test (fetches its own dependencies)
	$(GO) tool gotestsum --format testname -- -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

.PHONY: race
race: ## run the concurrent packages' tests under the race detector
	$(GO) tool gotestsum --format pkgname -- -race -count=1 -timeout $(TEST_TIMEOUT) ./processor/... ./ingest/... ./state/... ./query/...

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
