// Package capture is development and test CDC. It reads Postgres logical
// replication (pgoutput, protocol 1) and writes the records Debezium's
// PostgreSQL connector writes with JsonConverter and schemas.enable=false,
// so tests and `enricher demo` can run the chain from a real Postgres
// commit to an enriched record without Docker. Production uses Debezium.
//
// # Model
//
// Each captured table <schema>.<table> goes to the topic
// <prefix>.<schema>.<table>, which is created when missing (the content
// table's compacted). The key is the primary key as JSON ({"id":…}); the
// value is Debezium's envelope in Debezium's field order: before, after,
// source (version, connector "postgresql", name = prefix, ts_ms, snapshot,
// db, sequence, ts_us, ts_ns, schema, table, txId, lsn, xmin), transaction
// (null), op, ts_ms, ts_us, ts_ns. Records are partitioned by the murmur2
// hash of the key, as Kafka's Java producer does, so a row stays on one
// partition and its records keep their WAL order there.
//
// Columns are encoded like Debezium's (time.precision.mode=adaptive): uuid a
// lower-case string; timestamptz a UTC string with six fraction digits;
// json and jsonb their text as a string; int2, int4, int8 and oid numbers;
// bool; float4 and float8 numbers (NaN and infinities as strings); date days
// since the epoch; timestamp microseconds since the epoch; anything else
// (text, numeric, arrays, enums, …) its text form as a string. An unchanged
// TOASTed value, which logical decoding does not send, is
// "__debezium_unavailable_value".
//
// Ops: a new slot's snapshot writes r (source.snapshot "first", "true",
// "first_in_data_collection", "last_in_data_collection", "last"); insert c;
// update u, with before null under REPLICA IDENTITY DEFAULT and the old row
// under FULL; an update that changes the primary key d + tombstone for the
// old key and c for the new one (headers __debezium.newkey/oldkey); delete d
// followed by a tombstone (same key, null value), its before image under
// DEFAULT holding the real key and, in the other columns, Debezium's
// fallbacks ("" or 1970-01-01T00:00:00Z for NOT NULL columns, null for the
// rest); truncate one t record per table, with a null key. source.lsn is the
// change's WAL position, source.ts_* and txId the transaction's commit time
// and xid, sequence ["<end of the previous transaction>","<lsn>"].
//
// # Snapshot
//
// When the slot does not exist, Capture creates the publication (FOR TABLE
// the tables) if needed, creates the slot with EXPORT_SNAPSHOT, reads every
// table in a REPEATABLE READ transaction set to that snapshot while the
// replication connection stays idle, writes the rows, and only then starts
// streaming from the slot's consistent point: every committed change is
// either in the snapshot or in the stream, never missed and never in both. An existing slot is
// resumed from its confirmed position without a snapshot. While a snapshot
// is not yet acknowledged by Kafka, the publication's comment names the
// slot; a start that finds that marker drops the slot and takes the snapshot
// again, so a crash during the snapshot loses no row either.
//
// # Guarantees
//
// Records go to Kafka with acks=all, in batches (what arrives within a
// millisecond of the first record, or 5,000 records), one write at a time, so each partition
// receives them in WAL order. A WAL position is confirmed to Postgres
// (standby status update, flush position) only once Kafka acknowledged every
// record of every transaction up to it. A crash, a lost connection or a
// Kafka failure therefore never loses a change; the next run repeats the
// unconfirmed tail (at-least-once). When Run's context ends it writes what it
// holds, confirms it, and returns nil; a partly received transaction is left
// to the next run. Keepalives that ask for a reply get one; an idle slot is
// advanced to the server's reported WAL end so it does not hold WAL back.
//
// A null-key truncate record on a compacted topic is rejected by real Kafka
// (kfake accepts it); Capture then logs a warning and drops that record.
// Schema changes are followed through pgoutput's Relation messages, with
// nullability re-read from the catalog as it is at that moment.
//
// # Metrics
//
// With a Registerer: enricher_capture_rows_total{table,op},
// enricher_capture_kafka_write_seconds, enricher_capture_commit_to_ack_seconds,
// enricher_capture_confirmed_lag_bytes and enricher_capture_confirmed_lsn.
package capture
