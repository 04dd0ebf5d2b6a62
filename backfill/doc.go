// Package backfill replays historical engagement_events rows from Postgres
// into Kafka as the contract's plain JSON events, so the running service
// enriches them through the same path as live events (the service reads
// engagement_events.backfill next to the Debezium topic).
//
// Rows are read by keyset pagination on the primary key,
//
//	WHERE id > $last AND event_ts >= $from AND event_ts < $to ORDER BY id LIMIT $batch
//
// and each page is written with kafka-go (RequiredAcks all, Murmur2 on the
// key, which is the event id as decimal text). Reading the next page overlaps
// writing the current one; pages are written one at a time, in id order.
//
// # Checkpoint
//
// After Kafka acknowledged every record of a page, the id of its last row is
// saved to the checkpoint file atomically (temporary file, fsync, rename,
// fsync of the directory). Every id at or below the checkpoint is therefore
// in Kafka; a run that dies loses at most the page in flight, which a
// resumed run (Config.Resume) sends again: duplicates happen only at that
// boundary, and the service's idempotency keys (the event id) absorb them.
// The checkpoint also holds the range and topic: resuming it with another
// range or topic is refused.
//
// # Entry points
//
// Run sends; DryRun counts what Run would send. Progress is reported
// through a Progress: NewBar for a terminal, NewLogProgress for logs.
// RunCommand is `enricher backfill`: it checks the command's settings
// (CommandConfig), picks the progress report, runs either, and prints the
// outcome; every error it returns is one line (a failed connection to
// Postgres is a *ConnectError, saying where and what to check).
package backfill
