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
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every binary into ./bin
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: run
run: build ## run devkafka, the processor, ingest and query on ./data (Ctrl-C stops all; REWIND_BROKERS uses that Kafka)
	@$(BIN)/devrun -bin $(BIN) -data-dir data

.PHONY: tokens
tokens: build ## create the dev tokens in ./data (digests in data/tokens, for docker compose too)
	@$(BIN)/devrun -tokens-only -data-dir data

.PHONY: demo
demo: build ## drive a clinic day through ingest and show its audit trail, time travel and day list (uses make run, or starts it)
	@$(BIN)/demo -bin $(BIN) -data-dir data

.PHONY: catalog
catalog: ## write the command and event catalogue from the domain's registry: docs/commands.md, docs/asyncapi.json, ingest/openapi.yaml's schemas
	$(GO) run ./cmd/catalog

.PHONY: replay-demo
replay-demo: build ## walk through a logic change: a released bug, its preview, the fix's rollout, a wrong upcaster caught (own services, data/replay-demo)
	@$(BIN)/replaydemo -bin $(BIN) -data-dir data/replay-demo

# apt_install installs a Debian package when its command is missing and we
# are root (CI); otherwise it says what to do.
define apt_install
	@if ! command -v $(1) >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's $(2)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(3) $(2) >/dev/null || \
			{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(3) $(2) >/dev/null; }; \
		else \
			echo "$(1) is missing: apt-get install $(2) $(4)"; \
		fi; \
	fi
endef

.PHONY: deps
deps: ## install what the tests need besides Go: Debian's chromium (UI test) and curl (make run test), as root
	$(call apt_install,chromium,chromium,,)
	$(call apt_install,curl,curl,--no-install-recommends,)
	$(GO) mod download

.PHONY: test
test: deps ## run every test (fetches its own dependencies)
	$(GO) tool gotestsum --format testname -- -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

.PHONY: race
race: ## run the concurrent packages' tests under the race detector
	$(GO) tool gotestsum --format pkgname -- -race -count=1 -timeout $(TEST_TIMEOUT) ./processor/... ./ingest/... ./store/... ./query/... ./replay/...

.PHONY: e2e
# The AsyncAPI document is checked by the AsyncAPI project's own parser,
# and the clients of upstream and downstream teams are the real ones:
# kcat and confluent-kafka for Python (librdkafka, Debian's packages),
# kafkajs and the CloudEvents SDK (npm). npm's go under .cache/npm, once.
NPM_MODULES := .cache/npm/node_modules
E2E_NPM := @asyncapi/parser@3.6.3 kafkajs@2.2.4 cloudevents@10.0.0

e2e: build ## end to end: a real Prometheus (Debian's package) scrapes the running services; the AsyncAPI parser (npm) reads docs/asyncapi.json; kcat, confluent-kafka (Python) and kafkajs read the events
	$(call apt_install,prometheus,prometheus,--no-install-recommends,)
	$(call apt_install,npm,npm,--no-install-recommends,)
	$(call apt_install,kcat,kcat python3-confluent-kafka,--no-install-recommends,)
	@test -d $(NPM_MODULES)/@asyncapi/parser -a -d $(NPM_MODULES)/kafkajs -a -d $(NPM_MODULES)/cloudevents || \
		npm install --prefix .cache/npm --no-audit --no-fund --loglevel=error $(E2E_NPM)
	$(GO) tool gotestsum --format testname -- -tags e2e -count=1 -timeout 10m -run 'TestPrometheus|TestAsyncAPI|TestThirdPartyClients' ./e2e/

.PHONY: fuzz
fuzz: ## fuzz the command decoder, random command sequences, the token and If-Match parsers, and the remembered-id lookup for a while
	$(GO) test -run '^$$' -fuzz FuzzDecodeCommand -fuzztime 60s ./aggregate/schedule
	$(GO) test -run '^$$' -fuzz FuzzSequence -fuzztime 60s ./aggregate/schedule
	$(GO) test -run '^$$' -fuzz FuzzTokensFile -fuzztime 30s ./internal/api
	$(GO) test -run '^$$' -fuzz FuzzParseBearer -fuzztime 30s ./internal/api
	$(GO) test -run '^$$' -fuzz FuzzParseIfMatch -fuzztime 30s ./internal/api
	$(GO) test -run '^$$' -fuzz FuzzFind -fuzztime 30s ./store

.PHONY: bench
# BENCH_BEFORE is the commit whose processor the many-schedules case runs
# as its "before" variant: the build before the per-command CPU and bytes
# work that docs/performance.md's budget compares with.
BENCH_BEFORE ?= af1d001

bench: build ## print the performance numbers (devkafka as a separate process); BENCH_FLAGS="-only-mix" passes flags
	$(GO) build -tags rewind_crashpoints -o $(BIN)/crashpoints/ ./cmd/processor
	$(GO) build -tags rewind_unlogged -o $(BIN)/unlogged/ ./cmd/query
	@rm -rf $(BIN)/before $(BIN)/before-src
	@if git rev-parse -q --verify '$(BENCH_BEFORE)^{commit}' >/dev/null 2>&1; then \
		mkdir -p $(BIN)/before-src && git archive $(BENCH_BEFORE) | tar -x -C $(BIN)/before-src && \
		(cd $(BIN)/before-src && $(GO) build -o $(CURDIR)/$(BIN)/before/ ./cmd/processor) && rm -rf $(BIN)/before-src; \
	else echo "bench: no commit $(BENCH_BEFORE) here; the before variant is skipped"; fi
	$(BIN)/bench -bin $(BIN) $(BENCH_FLAGS)

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags e2e ./e2e/

.PHONY: clean
clean: ## remove build output and local data
	rm -rf $(BIN) data
