GO       ?= go
BIN      ?= bin/enricher
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test lint bench demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/enricher

# The whole suite: unit, golden, integration (kfake, srfake, temporary Postgres).
test:
	$(GO) test -count=1 -timeout 9m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# End-to-end (`enricher bench`): in-process Kafka, 100k content rows, 1M events,
# passthrough baseline vs the enricher, latency at 20k/s, restore, restart, and
# the scale steps; writes tools/bench/results.json and tools/bench/RESULTS.md.
# BENCH_FLAGS='--skip-scale' or '--events 300000' for a shorter run.
BENCH_FLAGS ?=
# Micro-benchmarks of the hot path (store apply and lookups, decoding, encoding),
# capture throughput, and commit-to-view / commit-to-enriched latency.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./store ./debezium ./enricher
	$(GO) test -run '^$$' -bench BenchmarkCapture -benchtime 1x ./tools/capture
	$(GO) test -run '^$$' -bench BenchmarkCommitLatency -benchtime 300x ./cmd/enricher
	$(GO) build -o $(BIN) ./cmd/enricher
	$(BIN) bench --out tools/bench --readme README.md $(BENCH_FLAGS)

# The whole pipeline on this machine: in-process Kafka, a temporary Postgres when
# its server binaries are found, capture, datagen and the service. Ctrl-C stops it;
# DEMO_FLAGS='--duration 30s' stops it by itself.
DEMO_FLAGS ?=
demo: build
	$(BIN) demo $(DEMO_FLAGS)

clean:
	rm -rf bin

# ---- The production-like stack: docker-compose.yml, README-operations.md ----
# `docker compose` when the plugin is there, else docker-compose (v1.29+).
# PROFILES adds optional services: make up PROFILES="datagen sinks".
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)
PROFILES ?=
COMPOSE_CMD = $(COMPOSE) $(addprefix --profile ,$(PROFILES))
CONNECT_URL ?= http://127.0.0.1:8083
CONNECTORS ?= debezium-connectors/thmanyah-postgres.json
UP_TIMEOUT ?= 300
SERVICES ?=
DOWN_FLAGS ?=

.PHONY: up register down logs ps

# Build, start, wait until every container is healthy, then register the
# Debezium connector (create or update; safe to repeat).
up:
	$(COMPOSE_CMD) up -d --build
	COMPOSE="$(COMPOSE_CMD)" UP_TIMEOUT=$(UP_TIMEOUT) bash deploy/scripts/wait-healthy.sh
	@$(MAKE) --no-print-directory register

# PUT /connectors/<name>/config for each of $(CONNECTORS); waits for RUNNING.
# The Avro variant: make register CONNECTORS=debezium-connectors/thmanyah-postgres-avro.json
register:
	CONNECT_URL=$(CONNECT_URL) bash deploy/scripts/register-connectors.sh $(CONNECTORS)

# Stops and removes the containers; volumes stay (DOWN_FLAGS=-v removes them too).
down:
	$(COMPOSE_CMD) down $(DOWN_FLAGS)

logs:
	$(COMPOSE_CMD) logs -f --tail=200 $(SERVICES)

ps:
	$(COMPOSE_CMD) ps

# ---- Crash, fault and hostile-input tests (issue #9) ----
FUZZTIME ?= 5s
.PHONY: test-faults fuzz
# kill -9 under load and during start-up and view load, SIGTERM under load,
# disk damage, a broker outage; then every fuzz target for $(FUZZTIME).
test-faults:
	ENRICHER_FAULT_TESTS=1 $(GO) test -count=1 -timeout 10m -run '^TestFault' -v ./cmd/enricher
	@$(MAKE) --no-print-directory fuzz

# Every fuzz target, one per `go test -fuzz` (it takes one).
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go); do \
	    echo "fuzz $$dir $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; \
	done
