GO       ?= go
BIN      ?= bin/enricher

.PHONY: all build test lint bench demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/enricher

# The whole suite: unit, golden, integration (kfake, srfake, temporary Postgres).
test:
	$(GO) test -count=1 -timeout 9m ./...

# gofmt checks tracked and new (untracked, not ignored) files that exist.
# staticcheck is a tool of the module (go.mod's tool directive, pinned in
# go.sum): `go tool` builds it from the module cache, no network needed once
# the modules are downloaded (go mod download).
lint:
	@out=$$(git ls-files -co --exclude-standard -- '*.go' | while read -r f; do [ ! -e "$$f" ] || echo "$$f"; done | xargs -r gofmt -l); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# End-to-end (`enricher bench`): in-process Kafka, 100k content rows, 1M events,
# passthrough baseline vs the enricher, latency at 20k/s, restore, restart, and
# the scale steps; writes tools/bench/results.json and tools/bench/RESULTS.md.
# BENCH_FLAGS='--skip-scale' or '--events 300000' for a shorter run.
BENCH_FLAGS ?=
# Micro-benchmarks of the hot path (store apply and lookups, decoding, encoding),
# capture throughput, and commit-to-view / commit-to-enriched latency.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./store ./debezium ./enricher ./schemas
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
# COMPOSE_FILES replaces compose's default file (docker-compose.yml), e.g.
# make ps COMPOSE_FILES="docker-compose.yml deploy/compose.avro.yml".
COMPOSE_FILES ?=
COMPOSE_CMD = $(strip $(COMPOSE) $(addprefix -f ,$(COMPOSE_FILES)) $(addprefix --profile ,$(PROFILES)))
CONNECT_URL ?= http://127.0.0.1:8083
CONNECTORS ?= debezium-connectors/thmanyah-postgres.json
UP_TIMEOUT ?= 300
SERVICES ?=
DOWN_FLAGS ?=

.PHONY: up register down logs ps

# up, down, logs and ps need a Docker engine and a compose client:
# need-docker.sh says in one line what is missing (and exits 1) before compose
# would. register does not: it only talks to Kafka Connect's REST API.
NEED_DOCKER = @bash deploy/scripts/need-docker.sh $@ $(COMPOSE)

# Build, start, wait until every container is healthy, then register the
# Debezium connector (create or update; safe to repeat).
up:
	$(NEED_DOCKER)
	$(COMPOSE_CMD) up -d --build
	COMPOSE="$(COMPOSE_CMD)" UP_TIMEOUT=$(UP_TIMEOUT) bash deploy/scripts/wait-healthy.sh
	@$(MAKE) --no-print-directory register

# The Avro variant (README-operations.md, "Avro instead of JSON"): `up` with
# `connect` built from deploy/connect-avro (deploy/compose.avro.yml), then the
# -avro connector config, which updates the same connector. `make up` goes
# back to the stock image and JSON.
.PHONY: up-avro
up-avro: COMPOSE_FILES = docker-compose.yml deploy/compose.avro.yml
up-avro:
	$(NEED_DOCKER)
	$(COMPOSE_CMD) up -d --build
	COMPOSE="$(COMPOSE_CMD)" UP_TIMEOUT=$(UP_TIMEOUT) bash deploy/scripts/wait-healthy.sh
	@$(MAKE) --no-print-directory register CONNECTORS=debezium-connectors/thmanyah-postgres-avro.json

# PUT /connectors/<name>/config for each of $(CONNECTORS); waits for RUNNING.
# The Avro variant: make register CONNECTORS=debezium-connectors/thmanyah-postgres-avro.json
register:
	CONNECT_URL=$(CONNECT_URL) bash deploy/scripts/register-connectors.sh $(CONNECTORS)

# The BigQuery sink on connect-bigquery (make up PROFILES=bigquery). Checks
# BQ_PROJECT, BQ_DATASET and the key file first, and stops with one line
# naming what is missing before it calls Kafka Connect; then PUTs
# deploy/bigquery/connector.json and waits for RUNNING.
CONNECT_BIGQUERY_URL ?= http://127.0.0.1:$(or $(CONNECT_BIGQUERY_HOST_PORT),8084)
.PHONY: register-bigquery
register-bigquery:
	@CONNECT_BIGQUERY_URL=$(CONNECT_BIGQUERY_URL) bash deploy/scripts/register-bigquery.sh

# Stops and removes the containers; volumes stay (DOWN_FLAGS=-v removes them too).
down:
	$(NEED_DOCKER)
	$(COMPOSE_CMD) down $(DOWN_FLAGS)

logs:
	$(NEED_DOCKER)
	$(COMPOSE_CMD) logs -f --tail=200 $(SERVICES)

ps:
	$(NEED_DOCKER)
	$(COMPOSE_CMD) ps

# Before the first `make up`: does every pinned image exist in its registry?
# Every compose file, every profile, every Dockerfile's FROM; `docker manifest
# inspect` needs the docker CLI and the network, no engine. Exit 1 when one is
# missing. CHECK_IMAGES_TIMEOUT (seconds per image, default 30).
.PHONY: check-images
check-images:
	@bash deploy/scripts/check-images.sh

# ---- Crash, fault and hostile-input tests (issue #9) ----
# A count, not a duration: with a duration, go1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" at the deadline
# (golang/go#75804, fixed in go1.27); a count has no deadline to race.
FUZZTIME ?= 60000x
.PHONY: test-faults fuzz
# kill -9 under load and during start-up and view load, SIGTERM under load,
# disk damage, a broker outage; then every fuzz target for $(FUZZTIME).
test-faults:
	ENRICHER_FAULT_TESTS=1 $(GO) test -count=1 -timeout 15m -run '^TestFault' -v ./cmd/enricher
	@$(MAKE) --no-print-directory fuzz

# Every fuzz target, one per `go test -fuzz` (it takes one).
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go); do \
	    echo "fuzz $$dir $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; \
	done
