// Package debezium decodes the Kafka records that Debezium's PostgreSQL
// connector writes for the content and engagement_events tables.
//
// Every record is classified on its own, so one topic may mix forms:
//
//   - a Kafka null value is a tombstone (the key says which row);
//   - a value starting with byte 0 and at least 5 bytes long is Avro in the
//     Confluent wire format, its writer schema fetched by id from a
//     SchemaSource (compiled codecs are cached per id);
//   - anything else is JSON: JsonConverter with schemas ({"schema","payload"};
//     the schema is ignored, the payload decides) or the bare payload. A
//     payload with op/source/before/after is a change-event envelope; one with
//     an id is a row flattened by ExtractNewRecordState (op from __op, delete
//     from __deleted or __op "d", op c when neither is present) or, for
//     engagement, the contract's plain event; one with only ts_ms is a
//     heartbeat.
//
// Keys may be Avro, JSON (with or without schema) or null, independently of
// the value's form. A content key must agree with the row id it carries; an
// engagement key is read only when the value names no event.
//
// The decoder is strict in meaning: wrong JSON types, out-of-range integers,
// malformed UUIDs or timestamps and unknown ops are errors naming the field,
// never silently zeroed. Unknown fields are ignored.
//
// Errors are *DecodeError. Retryable reports whether a failure is transient
// (the schema registry is unreachable, timing out or answering 5xx), in which
// case the same record should be tried again later. Every other failure is
// poison: the record itself can never be decoded and belongs in a DLQ.
package debezium
