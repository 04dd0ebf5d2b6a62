// Package wiring holds what the sinks' Run functions share: the pieces of a
// running sink that are the same for every sink, and the error that names a
// refused Config field.
//
// # Model
//
// A sink's Run validates its Config, refusing a value with a *FieldError
// (Refuse, CheckHostPort, CheckHTTPURL; Listen's error too), then builds
// the decoder of processed_engagements records (NewDecoder, with a Schema
// Registry client when a URL is given), the DLQ writer (NewDLQWriter, which
// creates the DLQ topic when missing), the metrics registry and its HTTP server
// (internal/httpx), and runs the sink and the server with internal/rungroup.
//
// # Guarantees
//
// No flags and no environment here: FieldError.Field is the Go name of the
// Config field, and the message of FieldError.Err reads after whatever
// names the field ("must be positive"), so cmd/enricher puts its flag and
// variable in front.
package wiring
