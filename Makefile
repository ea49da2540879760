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
run: ## run the domain demo (the services come with the processor issue)
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
bench: ## print the performance numbers
	$(GO) test -run '^$$' -bench . -benchmem ./aggregate/...

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...

.PHONY: clean
clean: ## remove build output and local data
	rm -rf $(BIN) data
