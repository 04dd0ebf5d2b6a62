# The enricher image: one static binary, every subcommand (run, datagen,
# backfill, sink ...). `enricher run` by default.
#
#   docker build -t thmanyah/enricher:local .
#   docker run --rm -p 127.0.0.1:8080:8080 -e KAFKA_BROKERS=kafka:9092 thmanyah/enricher:local
#
# Base images are pinned to exact versions; the Go version must match the
# `go` line of go.mod (cmd/enricher/compose_test.go checks it), and
# GOTOOLCHAIN=local makes a mismatch fail here instead of downloading a
# toolchain during the build.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOTOOLCHAIN=local GOFLAGS=-trimpath
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -ldflags="-s -w" -o /out/enricher ./cmd/enricher \
 && /out/enricher --help >/dev/null

# Runtime: Alpine rather than distroless, for one reason: a HEALTHCHECK needs
# an HTTP client inside the image, and distroless has none (nor a shell).
# Busybox's wget costs nothing here (it is part of the ~8 MB base), where
# distroless would need either a `healthcheck` subcommand in the binary or a
# second binary copied in. Alpine also brings CA certificates and a shell for
# `docker exec` debugging. The process still runs as a fixed non-root UID,
# and compose runs the service with a read-only root filesystem.
FROM alpine:3.22.2
RUN addgroup -S -g 10001 enricher \
 && adduser -S -D -H -u 10001 -G enricher -h /data -s /sbin/nologin enricher \
 && mkdir -p /data \
 && chown 10001:10001 /data
COPY --from=build /out/enricher /usr/local/bin/enricher

# /data holds the content view (DATA_DIR) and anything else a subcommand
# writes relative to its working directory (backfill's checkpoint). Mount a
# volume there: a new named volume takes over this directory's owner.
WORKDIR /data
USER 10001:10001
# Inside a container the HTTP server must listen on every interface (the
# binary's default, 127.0.0.1, is unreachable from outside the container).
ENV HTTP_ADDR=0.0.0.0:8080 \
    DATA_DIR=/data/view
EXPOSE 8080

# /healthz answers 200 while the process runs (readiness is /readyz). The
# check assumes the port of HTTP_ADDR is 8080; services of this image that
# serve no HTTP (datagen, backfill, sinks) disable it in docker-compose.yml.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1

ENTRYPOINT ["enricher"]
CMD ["run"]
