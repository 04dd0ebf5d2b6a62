// Package enricher joins engagement events with the content view and writes
// one enriched Avro record per event to the output topic.
//
// Model: a Processor is a consumer group member over the engagement topics; each instance holds a
// full content view, and starts joining only once that view is ready. Events
// are processed in batches through a pipeline (pipeline.go): one goroutine
// fetches batches, Workers decode, look up (as of the event's time, or the
// latest version), derive and encode them side by side, and one goroutine
// delivers them in fetch order, one produce of every output and DLQ record per
// batch; offsets are committed only after the broker acknowledged everything
// before them. So delivery is at-least-once: a crash repeats at most the
// batches in flight, never loses one, and per-partition order is kept.
//
// A miss (content unknown), or an event newer than every change the view has
// applied, first waits, at most --join-wait, for the view to
// reach the content topic's end offsets as read at that moment; a miss is
// emitted, with NULL content fields, only when the view has caught up or the
// wait is over. Misses are never cached.
//
// Derived fields are exact decimals (derive.go); records are encoded by
// package schemas (Confluent's wire format with a registry, single-object
// encoding with the spec's fingerprint without one).
//
// The processor reports its position in every engagement topic-partition it
// committed to (Positions: next offset, end offset, lag), shown on
// /debug/stats under "engagement".
package enricher
