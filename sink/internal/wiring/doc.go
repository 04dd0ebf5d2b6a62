// Package wiring holds what the sinks' Run functions build the same way: the
// decoder of processed_engagements records (NewDecoder, with a Schema
// Registry client when a URL is given) and the DLQ writer (NewDLQWriter,
// which creates the DLQ topic when missing).
//
// # Model
//
// A sink's Run validates its Config, refusing a value with a *field.Error
// (internal/field: Refuse, CheckHostPort, CheckHTTPURL, Listen), then builds
// these, the metrics registry and its HTTP server (internal/httpx), and runs
// the sink and the server with internal/rungroup.
//
// # Guarantees
//
// No flags and no environment here: a refused value names the Go field of
// the Config, and cmd/enricher puts its flag and variable in front.
package wiring
