package store

import (
	"database/sql"
	"encoding/binary"
	"sync"

	"github.com/google/uuid"
)

const shardCount = 64 // a power of two: shardFor takes the top bits of a hash

// The index holds no Go pointers per row, so the garbage collector never
// scans it: with a million rows a pointer per row made every GC cycle mark
// hundreds of MB and took half the service's CPU. Map keys and values are
// plain data (Go then allocates the map's groups as no-scan memory), content
// types are small numbers into a shared table, and the older versions of a
// row live in a per-shard []version arena addressed by offset.

// version is the in-memory projection of one stored version. It holds only
// what the join reads, so the index stays small next to Badger.
type version struct {
	validFrom int64
	lsn       int64
	length    int32
	ctype     uint8 // content type: a slot of Store.types, unless flagOddType
	flags     uint8 // the stored value's flags, plus flagOddType
}

// flagOddType marks a content type that found no slot in the type table; its
// text is in the shard's odd map. It lives only in memory: decodeProjection
// keeps just the stored flags.
const flagOddType uint8 = 1 << 7

const storedFlags = flagDeleted | flagContentType | flagLength

func (v *version) deleted() bool { return v.flags&flagDeleted != 0 }

// verKey names one version of a row.
type verKey struct {
	id  uuid.UUID
	seq uint64
}

// entry is the history of one row. Pruning only ever drops a prefix, so the
// sequences of the stored versions are firstSeq, firstSeq+1, ... and need not
// be kept per version. An entry always holds at least one version: latest,
// inline, because most lookups want it; the n-1 older ones, oldest first and
// validFrom non-decreasing, are in the shard's arena at off (see history.go).
type entry struct {
	latest   version
	firstSeq uint64
	n        uint32 // versions, latest included
	off      uint32 // start of the older versions in shard.hist, when n > 1
}

func (e *entry) nextSeq() uint64 { return e.firstSeq + uint64(e.n) }

func (e *entry) live() bool { return !e.latest.deleted() }

// shard is one slice of the index. Readers take the read lock; the writer
// (Apply, Prune, holding Store.mu) takes the write lock to change m, hist or
// odd. Because every mutation happens under Store.mu, the writer may read
// them without the shard lock.
type shard struct {
	mu   sync.RWMutex
	m    map[uuid.UUID]entry
	hist []version // arena of older versions; runs of 1<<class slots
	free [maxClass + 1][]uint32
	odd  map[verKey]string // content types of flagOddType versions; nil until needed
}

func (s *Store) shardFor(id uuid.UUID) *shard { return &s.shards[shardOf(id)] }

func shardOf(id uuid.UUID) uint8 {
	// Mix both halves: ids are not always random (UUIDv7 starts with a clock).
	h := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])
	return uint8((h * 0x9e3779b97f4a7c15) >> (64 - 6))
}

// lookup builds the answer for version v (sequence seq) of row id; sh's read
// lock is held, for the odd map.
func (s *Store) lookup(sh *shard, id uuid.UUID, seq uint64, v *version) Lookup {
	l := Lookup{
		LengthSeconds: sql.NullInt32{Int32: v.length, Valid: v.flags&flagLength != 0},
		ValidFromMs:   v.validFrom,
		LSN:           v.lsn,
	}
	switch {
	case v.flags&flagContentType == 0:
	case v.flags&flagOddType != 0:
		l.ContentType = sql.NullString{String: sh.odd[verKey{id, seq}], Valid: true}
	default:
		l.ContentType = sql.NullString{String: s.types.names[v.ctype], Valid: true}
	}
	return l
}

// Current returns the row's latest version; false when the row is unknown or
// its latest version is a delete.
func (s *Store) Current(id uuid.UUID) (Lookup, bool) {
	sh := s.shardFor(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e, ok := sh.m[id]
	if !ok || e.latest.deleted() {
		return Lookup{}, false
	}
	return s.lookup(sh, id, e.nextSeq()-1, &e.latest), true
}

// AsOf returns the version valid at tsMs: the last one with ValidFromMs <= tsMs,
// or the first one when tsMs precedes the row's history (an event may carry a
// timestamp slightly older than the row's first commit, and the oldest
// version is the best answer we have). False when the id is unknown or the
// chosen version is a delete.
func (s *Store) AsOf(id uuid.UUID, tsMs int64) (Lookup, bool) {
	sh := s.shardFor(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e, ok := sh.m[id]
	if !ok {
		return Lookup{}, false
	}
	v, seq := &e.latest, e.nextSeq()-1
	// The common case, an event after the last change, never leaves the map.
	if e.latest.validFrom > tsMs && e.n > 1 {
		older := sh.older(&e)
		// Find the first older version with validFrom > tsMs; the answer
		// precedes it, or is the oldest. None means the one before latest.
		lo, hi := 0, len(older)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if older[mid].validFrom <= tsMs {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if lo > 0 {
			lo--
		}
		v, seq = &older[lo], e.firstSeq+uint64(lo)
	}
	if v.deleted() {
		return Lookup{}, false
	}
	return s.lookup(sh, id, seq, v), true
}

// Len returns the number of live rows.
func (s *Store) Len() int { return int(s.live.Load()) }

// maxTypes bounds the type table so hostile input cannot grow it without
// limit; past it a version keeps its own text in the odd map, as before
// interning.
const maxTypes = 256

// typeTable numbers the distinct content types: the column has a handful of
// values. A slot is written once, by the writer, before any version naming
// it is published under a shard lock, so readers index names without a lock
// of their own.
type typeTable struct {
	names [maxTypes]string
	ids   map[string]uint8 // writer only
}

// id returns the slot of s, taking a free one if needed; false when the table is full.
func (t *typeTable) id(s string) (uint8, bool) {
	if id, ok := t.ids[s]; ok {
		return id, true
	}
	return t.add(s)
}

// idBytes is id without converting b unless it is new.
func (t *typeTable) idBytes(b []byte) (uint8, bool) {
	if id, ok := t.ids[string(b)]; ok {
		return id, true
	}
	return t.add(string(b))
}

func (t *typeTable) add(s string) (uint8, bool) {
	n := len(t.ids)
	if n >= maxTypes {
		return 0, false
	}
	if t.ids == nil {
		t.ids = map[string]uint8{}
	}
	t.names[n] = s
	t.ids[s] = uint8(n)
	return uint8(n), true
}
