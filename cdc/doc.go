// Package cdc keeps the content view (package store) current with the content
// topic that Debezium writes.
//
// Model: like a Kafka Streams GlobalKTable, every instance reads ALL partitions
// of the topic itself, with no consumer group, and keeps a full copy. It resumes
// from the offsets stored in the view, which are written in the same Badger
// transaction as the rows they stand for; an empty data dir rebuilds from the
// start of the topic.
//
// Guarantees:
//   - A record is applied, ignored (heartbeat), or sent to the DLQ with the
//     reason; its offset is stored only after that effect is durable (the DLQ
//     write acknowledged, the Badger transaction committed).
//   - A record that can never be decoded (poison) goes to the DLQ and its
//     partition moves on; a transient failure (Schema Registry unreachable) is
//     retried with backoff and holds its partition, and so readiness, back
//     until it succeeds.
//   - Ready reports true once the view has reached the end offsets the topic
//     had when Run started, and stays true.
//   - While no broker answers its metadata and offsets requests, Unreachable
//     says so ("kafka unreachable at <brokers>: <network error>"), the log
//     says it at most every 30s, and the consumer keeps retrying; it is nil
//     again from the first answer.
//
// Records are decoded by each partition's reader, in order, and applied by a
// single writer in batches of whatever is decoded and waiting: decoding
// (mostly JSON) is most of a restore's CPU, and this way it runs on as many
// cores as there are partitions, alongside the Badger commits.
package cdc
