// Package demo runs the whole architecture on one machine with no Docker,
// for `enricher demo`: an in-process Kafka (kfake) on loopback with the
// contract's topics; a temporary redis-server when its binary is found (no
// persistence, a free port, a temporary directory); a temporary Postgres
// cluster when its server binaries are found (internal/pgtemp), with the
// contract's tables, the development CDC (tools/capture) from it to Kafka
// and the data generator (tools/datagen) writing into it, or else the
// generator writing synthetic Debezium records straight to Kafka; the
// service itself, which the caller supplies (Config.Service) on a temporary
// data directory; the Redis sink (sink/redis) keeping engagement:top:10m;
// the HTTP sink (sink/http) delivering to the built-in receiver
// (tools/receiver) on a free port; and a few malformed engagement records,
// injected at the start, that the service dead-letters.
//
// Output, in order: the console's URL (the service's HTTP address) first,
// then what was started (or skipped, and why), then a legend of the status
// line, the moments the first enriched event, the first Redis ranking and
// the first delivery to the receiver were seen (seconds since the start),
// a status line every Config.StatusEvery, and a summary.
//
// Stopping (ctx ending or Config.Duration passing) is ordered: datagen
// stops first, then the demo waits (at most drainLimit) until the
// service's counters account for every generated event, reads them, and
// stops the rest. The summary puts every generated event (datagen's and
// the injected ones) in exactly one row (joined, miss, held at the stop,
// DLQ, and the remainder: not yet read, or counted twice when negative),
// each row naming the counter it comes from; skipped records (deletes,
// tombstones) and exactly-once re-reads are listed apart, as they are not
// generated events.
//
// The parts run as one run group (internal/rungroup): the first to fail
// stops the others, and that failure is what Run returns; ctx ending stops
// them all as above and Run returns nil.
//
// Guarantee: everything Run starts is stopped and removed when it returns,
// whatever the outcome: every part has returned, the service is closed,
// redis-server is stopped and its directory deleted, the Postgres cluster
// is stopped and its directory deleted, the in-process Kafka is closed, and
// the service's data directory is deleted.
package demo
