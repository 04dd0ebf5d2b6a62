// Package httpsink delivers processed_engagements records to an external
// HTTP endpoint (`enricher sink http`).
//
// # Entry points
//
// Run(ctx, Config, log) is the running sink (`enricher sink http`): it
// validates the Config (a refused value, or an HTTPAddr it cannot listen on,
// is a *FieldError naming the Config field, returned before anything
// starts), then builds the record decoder (with a Schema Registry client
// when SchemaRegistryURL is set), the DLQ writer (creating the DLQ topic when
// missing), a Prometheus registry with the Go and process collectors, and
// the /metrics and /healthz server (NewHandler), and runs the Sink and the
// server as one group until ctx ends, when it returns nil after the POSTs in
// flight. It knows no flags or environment variables: cmd/enricher maps them
// to Config and FieldError.Field back to them. Metrics are named
// enricher_sink_http_*.
//
// New(SinkConfig) is the Sink alone, given its decoder and DLQ producer,
// with every timing adjustable; tests and embedders use it.
//
// # Model
//
// The sink is a Kafka consumer group of its own (kafka-go ConsumerGroup for
// assignment, one kafka-go partition Reader per assigned partition, offsets
// committed explicitly). Each partition forms batches of its own records, in
// offset order, and has at most one batch in flight, so per-partition order
// is kept; across partitions at most Concurrency POSTs are in flight.
//
// A batch is POSTed as {"events":[...]} (see AppendEvent for the fields) with
// Content-Type application/json and an Idempotency-Key header.
//
// # Idempotency keys and batch boundaries
//
// The key is "<topic>/<partition>/<first offset>-<last offset>/<hash>", the
// hash being 8 bytes of SHA-256 over the records' offsets, keys and values
// (IdempotencyKey): it is a function of the batch's records only.
//
// A batch's boundaries depend on what had arrived when it was formed, so
// they are made durable before the batch is first sent: the sink commits the
// batch's first offset with the commit metadata "httpsink/v1 end=<last
// offset>". That one commit also completes the previous batch. After a
// success (or dead-lettering) the next commit moves past the batch. Whoever
// takes the partition over — this process after a crash, or another
// instance after a rebalance — reads the committed offset and metadata, and
// forms exactly the announced batch first, whatever its own --batch, so the
// same records go out again with the same key. A partition idle for Linger
// commits its last batch on its own, with no metadata.
//
// # Failures
//
//   - 2xx: delivered.
//   - 408, 429, 5xx, timeouts (Timeout per request) and connection failures:
//     retried up to MaxRetries times with exponential backoff and jitter
//     (internal/retry); a Retry-After (seconds or HTTP date) on a 429 or 5xx
//     holds back every POST of the sink until it has passed.
//   - other 4xx (and unfollowed 3xx): the batch's records go to the DLQ at
//     once (dlq.Record, stage "sink.http", dlq.error naming the status and the
//     start of the response body).
//   - retries exhausted: the batch's records go to the DLQ.
//   - records that are not processed_engagements records (ErrNotOutput, an
//     unknown or unsupported schema id): each goes to the DLQ; the rest of
//     its batch is sent. A Schema Registry that cannot answer is retried.
//
// A circuit breaker opens after BreakerFailures consecutive failures (5xx,
// 408, timeouts, connection failures; a 429 neither counts nor resets). While
// open, partitions wait instead of spending retries; after BreakerCooldown one
// probe is let through (half-open): its success closes the breaker, its
// failure opens it again. Waiting on an open breaker spends no retries, a
// probe does: a long outage dead-letters only the probing batches, one per
// MaxRetries+1 cool-downs.
//
// Offsets are committed only after a batch was acknowledged or its records
// were acknowledged by the DLQ topic. When a partition is revoked or the sink
// stops, the POST in flight finishes (within Grace) and is committed; a batch
// still retrying is left uncommitted, to be sent again under its key.
//
// # Guarantees
//
// At-least-once: every record is acknowledged by the endpoint or written to
// the DLQ before its offset is committed. A record is sent more than once
// only after a retry, a crash or a rebalance, and then always inside the same
// batch with the same Idempotency-Key, so an endpoint that deduplicates by key
// counts each record once. Two exceptions break the same-key rule, both
// outside the sink's control: the group's offsets reset by hand (the
// metadata goes with them), and records deleted by retention between a
// crash and the restart.
package httpsink
