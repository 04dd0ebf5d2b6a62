// Package redissink keeps the rolling top content of the last 10 minutes in
// Redis, from the processed_engagements records the enricher writes.
//
// # Entry points
//
// Run(ctx, Config, log) is the running sink (`enricher sink redis`): it
// validates the Config (a refused value, or an HTTPAddr it cannot listen on,
// is a *FieldError naming the Config field, returned before anything
// starts), then builds the Redis client, the record decoder (with a Schema
// Registry client when SchemaRegistryURL is set), the DLQ writer (creating
// the DLQ topic when missing), a Prometheus registry with the Go and process
// collectors, and the HTTP API (NewHandler: GET /top, /healthz, /metrics),
// and runs the Sink and the server as one group until ctx ends, when it
// returns nil. It knows no flags or environment variables: cmd/enricher
// maps them to Config and FieldError.Field back to them.
//
// New(SinkConfig) is the Sink alone, given its Redis client, decoder and
// DLQ producer, with every timing adjustable; tests and embedders use it.
//
// # Model
//
// The view is the sorted set engagement:top:10m: member = content id, score
// = the sum of engagement_seconds over the events whose event time lies in
// the window. The window slides by event time in whole seconds: at instant
// now it holds the events whose second (event_ts floored to the second) is
// one of the last Window/1s seconds up to and including now's. The clock is
// SinkConfig.Now, so tests make it deterministic.
//
// Each accepted event is added, by its event id, to two bucket sorted sets:
// engagement:bucket:1s:<unix second> and engagement:bucket:1m:<unix minute>.
// A merge sums the fewest buckets that tile the window exactly (minute
// buckets for the minutes wholly inside it, second buckets at its two ragged
// ends, at most 128 keys for 10 minutes) with ZUNIONSTORE into a temporary
// key, keeps the Top highest members (0: all), and RENAMEs it over the view;
// the merge is one Lua script, so readers see the old set or the new one,
// never a partial one. Merges run after applied batches (at most once per
// MergeGap, default 100 ms) and at least every MergeInterval (default 1 s),
// so old events leave the view even when no record arrives. Every bucket
// and seen set expires one window plus a minute after its last second can be
// in the window; nothing is ever subtracted, so no rounding error builds up.
//
// # Guarantees
//
// Exactly once per event id: the apply script adds an event only if SADD of
// its id into its seen set (engagement:seen:<id/512>, 512 ids per set, an
// intset in Redis) says it is new, in the same script as the ZINCRBYs, so
// the check and the add are atomic. A record delivered again (a replay, a
// restart, a rebalance, a retry after a lost reply) is a duplicate; the
// first version of an event id wins.
//
// Records with a NULL content_id or NULL engagement_seconds add nothing
// (outcome no_content). Records whose event second is before the window, or
// more than one window ahead of it, are ignored (out_of_window): a backfill
// cannot disturb the live view, and its replays are never looked up in the
// seen sets. An event ahead of the window by less than one window is applied
// and becomes visible when the window reaches it. Undecodable records, and
// records whose engagement_seconds is NaN, infinite or negative, go to the
// DLQ with dlq.Record headers (stage "sink.redis").
//
// At-least-once delivery with idempotent effects: a batch (pipelined script
// calls of 512 events, never one round trip per event) is retried with
// backoff until Redis acknowledged it, and only then are its offsets
// committed. While Redis is down nothing is committed; a crash repeats at
// most the uncommitted batches, which the seen sets absorb.
//
// Redis losing its data (a restart without persistence, a flush) is
// detected by the state key engagement:sink:state ("ok" after a finished
// rebuild): when the script or a merge finds it missing, or the sink starts
// and it is not "ok", the sink rebuilds: it reads every partition the group
// has committed again from the first record stamped at or after
// now - Window - RebuildMargin (Kafka timestamps; the margin covers producer
// clock skew) up to the end, through the same script. Until the rebuild ends
// the view can be short; afterwards it is exact again. A record stamped more
// than RebuildMargin before its own event time is missed by a rebuild.
//
// Freshness, the histogram enricher_sink_redis_freshness_seconds, is
// measured on the wall clock from an applied record's Kafka timestamp to the
// end of the first merge that includes it. Every metric of the sink is named
// enricher_sink_redis_*.
//
// # Limits
//
// One Redis (not Cluster: the scripts touch keys of many hash slots), with a
// maxmemory policy that never evicts the sink's keys. Memory: one seen-set
// entry (~8 bytes) per event of the last window and a minute, and one
// bucket entry per content per second and per minute with events. Content
// types (from the records) are kept in the hash engagement:content_type;
// titles are not in the records (see HandlerConfig.ContentAPI).
package redissink
