package store

import (
	"database/sql"
	"encoding/binary"
	"sync"

	"github.com/google/uuid"
)

const shardCount = 64 // a power of two: shardFor takes the top bits of a hash

// version is the in-memory projection of one stored version. It holds only
// what the join reads, so the index stays small next to Badger.
type version struct {
	validFrom   int64
	lsn         int64
	contentType string // interned: the column has a handful of distinct values
	length      int32
	flags       uint8
}

func (v *version) deleted() bool { return v.flags&flagDeleted != 0 }

func (v *version) lookup() Lookup {
	return Lookup{
		ContentType:   sql.NullString{String: v.contentType, Valid: v.flags&flagContentType != 0},
		LengthSeconds: sql.NullInt32{Int32: v.length, Valid: v.flags&flagLength != 0},
		ValidFromMs:   v.validFrom,
		LSN:           v.lsn,
	}
}

// entry is the history of one row. Pruning only ever drops a prefix, so the
// sequences of the stored versions are firstSeq, firstSeq+1, ... and need not
// be kept per version. An entry always holds at least one version.
type entry struct {
	// latest repeats the last element of vers inside the map slot: most
	// lookups want it, and reaching vers costs another cache miss.
	latest   version
	firstSeq uint64
	vers     []version // oldest first, validFrom non-decreasing
}

func (e *entry) nextSeq() uint64 { return e.firstSeq + uint64(len(e.vers)) }

func (e *entry) live() bool { return !e.latest.deleted() }

// shard is one slice of the index. Readers take the read lock; the writer
// (Apply, Prune, holding Store.mu) takes the write lock only to publish.
// Because every mutation happens under Store.mu, the writer may read the maps
// without the shard lock.
type shard struct {
	mu sync.RWMutex
	m  map[uuid.UUID]entry
	_  [32]byte // keep neighbouring shards' locks off one cache line
}

func (s *Store) shardFor(id uuid.UUID) *shard {
	// Mix both halves: ids are not always random (UUIDv7 starts with a clock).
	h := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])
	return &s.shards[(h*0x9e3779b97f4a7c15)>>(64-6)]
}

// Current returns the row's latest version; false when the row is unknown or
// its latest version is a delete.
func (s *Store) Current(id uuid.UUID) (Lookup, bool) {
	sh := s.shardFor(id)
	sh.mu.RLock()
	e, ok := sh.m[id]
	sh.mu.RUnlock()
	if !ok || e.latest.deleted() {
		return Lookup{}, false
	}
	return e.latest.lookup(), true
}

// AsOf returns the version valid at tsMs: the last one with ValidFromMs <= tsMs,
// or the first one when tsMs precedes the row's history (an event may carry a
// timestamp slightly older than the row's first commit, and the oldest
// version is the best answer we have). False when the id is unknown or the
// chosen version is a delete.
func (s *Store) AsOf(id uuid.UUID, tsMs int64) (Lookup, bool) {
	sh := s.shardFor(id)
	sh.mu.RLock()
	e, ok := sh.m[id]
	if !ok {
		sh.mu.RUnlock()
		return Lookup{}, false
	}
	if e.latest.validFrom <= tsMs { // the common case: an event after the last change
		sh.mu.RUnlock()
		if e.latest.deleted() {
			return Lookup{}, false
		}
		return e.latest.lookup(), true
	}
	// Find the first version with validFrom > tsMs; the answer precedes it.
	lo, hi := 0, len(e.vers)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if e.vers[mid].validFrom <= tsMs {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > 0 {
		lo--
	}
	v := e.vers[lo]
	sh.mu.RUnlock()
	if v.deleted() {
		return Lookup{}, false
	}
	return v.lookup(), true
}

// Len returns the number of live rows.
func (s *Store) Len() int { return int(s.live.Load()) }

// interner shares content type strings; bounded so hostile input cannot grow
// it without limit (past the bound strings are simply not shared).
type interner map[string]string

const maxInterned = 256

func (in interner) bytes(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

func (in interner) string(s string) string {
	if t, ok := in[s]; ok {
		return t
	}
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}
