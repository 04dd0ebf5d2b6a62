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

# Micro-benchmarks of the hot path (store apply and lookups, decoding, encoding),
# capture throughput, and commit-to-view / commit-to-enriched latency.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./store ./debezium ./enricher
	$(GO) test -run '^$$' -bench BenchmarkCapture -benchtime 1x ./capture
	$(GO) test -run '^$$' -bench BenchmarkCommitLatency -benchtime 300x ./cmd/enricher

# The whole pipeline on this machine: in-process Kafka, a temporary Postgres when
# its server binaries are found, capture, datagen and the service. Ctrl-C stops it;
# DEMO_FLAGS='--duration 30s' stops it by itself.
DEMO_FLAGS ?=
demo: build
	$(BIN) demo $(DEMO_FLAGS)

clean:
	rm -rf bin
