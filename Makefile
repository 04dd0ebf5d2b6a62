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

# Micro-benchmarks of the hot path (store apply and lookups, decoding, encoding).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./store ./debezium ./enricher

demo:
	@echo "make demo arrives with the demo issue (#4): the whole pipeline on one machine with no Docker."
	@echo "Until then: 'make test' runs the pipeline end to end on an in-process Kafka (see README)."

clean:
	rm -rf bin
