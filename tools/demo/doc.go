// Package demo runs the whole pipeline on one machine with no Docker, for
// `enricher demo`: an in-process Kafka (kfake) on loopback with the
// contract's topics; a temporary Postgres cluster when its server binaries
// are found (internal/pgtemp), with the contract's tables, the development
// CDC (tools/capture) from it to Kafka and the data generator
// (tools/datagen) writing into it, or else the generator writing synthetic
// Debezium records straight to Kafka; and the service itself, which the
// caller supplies (Config.Service) on a temporary data directory. It prints
// what it started, then a status line every Config.StatusEvery read from the
// service's metrics, then a summary.
//
// The parts run as one run group (internal/rungroup): the first to fail
// stops the others, and that failure is what Run returns; ctx ending stops
// them all and Run returns nil.
//
// Guarantee: everything Run starts is stopped and removed when it returns,
// whatever the outcome: every part has returned, the service is closed, the
// Postgres cluster is stopped and its directory deleted, the in-process
// Kafka is closed, and the service's data directory is deleted.
package demo
