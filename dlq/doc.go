// Package dlq builds dead-letter records: the original key and value bytes of a
// record the service could not process, with headers that say why and where it
// came from (the contract's dlq.* headers). Writing them is the caller's job, so
// that the caller can commit its input offsets only after the DLQ write is acknowledged.
//
// It also reads the DLQ topic back and redrives it. Reader lists the latest
// records newest first across partitions (reading each partition backwards,
// a bounded number of records) or fetches one by position; Parse turns a
// record into an Entry and marks one without this service's headers Foreign.
// Replay sends selected records to their source topic with their original
// headers plus dlq.replay.count and dlq.replay.from, so a record that fails
// again returns here recognisable and --max-replays can stop a loop. Its
// Checkpoint records the DLQ positions the broker acknowledged, saved
// atomically after every batch: running a replay again sends nothing twice.
package dlq
