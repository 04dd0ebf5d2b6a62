// Package store is the enricher's materialized view of the Postgres content
// table: a Badger database (normal, non-managed mode) fed by Debezium change
// events, holding every row's history and the Kafka offsets consumed.
//
// Key layout:
//
//	0x00 'f'                          format version (1 byte)
//	0x00 'o' partition(4 BE) topic    next offset to read (8 BE)
//	0x00 't'                          truncate watermark LSN (8 BE)
//	'v' id(16) seq(8 BE)              one version of a row
//
// A version's value is a compact binary record (see appendValue): flags
// (deleted, truncated, nullability), valid-from, the Source (topic,
// partition, offset, LSN, commit ts) and, unless it is a delete, the Row.
// Meta keys sort before every version key, so row scans (prefix 'v') never
// see them.
//
// Ops: a version's Op (History, VersionAt) is derived, not stored: create
// for a row's first stored version or the first after a tombstone, update
// otherwise, and for a tombstone delete or truncate by its truncated flag.
// The flag was added in issue 16; tombstones written before carry only the
// deleted flag, so their truncates read as deletes. Readers that predate it
// ignore the bit. After Prune, a row's first remaining version reads as a
// create.
//
// Atomicity: Apply writes a batch's versions and its offsets in one Badger
// transaction. A batch too big for one (ErrTxnTooBig) is split into
// consecutive transactions, each carrying only the offsets advanced before
// the changes it contains, so after a crash the durable offsets never run
// ahead of the durable rows; records past them are consumed again and the
// LSN check below makes that harmless. SyncWrites is off: a power loss may
// lose the last transactions, but rows and offsets together.
//
// History: every change is a new version (a delete is a tombstone version),
// in apply order, valid from its Source.TsMs; a commit time lower than the
// previous version's is raised to it, so valid-from never decreases. A
// change whose known LSN is <= the row's latest known LSN, or below the
// truncate watermark, is stale and skipped: re-delivery never moves a row
// back. A change with LSN 0 (unknown: the flattened forms) applies unless its
// commit time precedes the last truncate's. Deleting an absent or deleted row
// writes nothing. A truncate writes a delete version for every live row but
// those that committed after it (a higher known LSN or, without one, a later
// commit time: a truncate has no key, so on a multi-partition topic it may be
// read before changes that follow it), and raises the watermarks; a truncate
// at or below the LSN watermark is stale. Columns in Change.Keep (TOAST
// placeholders) take the latest stored value. Prune drops versions whose validity ended before the
// retention window, and the whole history of rows deleted before it; a
// re-delivery older than the retention window can then resurrect such a row.
//
// Memory: per row, the projection the join needs (content type, length,
// valid-from, LSN, deleted flag) of every stored version, in 64 shards behind
// read-write locks. It holds no Go pointers, so the garbage collector never
// scans it: the latest version is inline in the map slot, the older ones in
// a per-shard arena of pointer-free runs (a single-version row allocates
// nothing), and a content type is a number into a table of at most 256
// types (past that, a version's type text is kept apart, by id and
// sequence). Freed runs are reused per size class, so the arena stays at the
// peak its histories needed. Current and AsOf are served from it without
// allocating or touching Badger; it is rebuilt at Open (after verifying
// table checksums, since Badger's iterators stop silently at a damaged
// block) and changed only after a successful commit, by the single writer
// (Apply and Prune are serialized). Get, List, History, VersionAt and
// Search read Badger. Search has no index of its own (nothing is added to
// Apply's writes): it scans rows in id order and stops after
// SearchScanLimit rows, returning where to continue.
package store
