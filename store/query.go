package store

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Op says how a version came about.
type Op uint8

const (
	// OpUpdate is a new row value after a live one.
	OpUpdate Op = iota
	// OpCreate is the first stored version of a row, or the first after a
	// delete or truncate. After Prune dropped a row's oldest versions, its
	// first remaining version reads as a create.
	OpCreate
	// OpDelete is a tombstone written by a row delete, or by a truncate
	// applied before the truncate flag existed.
	OpDelete
	// OpTruncate is a tombstone written by a table truncate.
	OpTruncate
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	case OpTruncate:
		return "truncate"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// opAfter is v's Op given whether the version before it was absent or a
// tombstone; decodeVersion already set the tombstones' ops.
func opAfter(v Version, prevGone bool) Op {
	if !v.Deleted && prevGone {
		return OpCreate
	}
	return v.Op
}

// At says which version VersionAt found.
type At uint8

const (
	// AtUnknown: the row has no stored version.
	AtUnknown At = iota
	// AtBefore: the time precedes the row's first stored version, which is
	// returned (the join uses it, see AsOf).
	AtBefore
	// AtValid: the returned version is the one valid at the time; it may be
	// a tombstone.
	AtValid
)

// VersionAt reads from Badger the version of the row valid at tsMs: the last
// one with ValidFromMs <= tsMs. Unlike AsOf it returns tombstones and says
// when tsMs precedes the history instead of answering with its first
// version silently; it is for the debug API, not the join.
func (s *Store) VersionAt(id uuid.UUID, tsMs int64) (Version, At, error) {
	if s.closed.Load() {
		return Version{}, AtUnknown, fmt.Errorf("version at %s: %w", id, ErrClosed)
	}
	var (
		out  Version
		at   = AtUnknown
		done bool
	)
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: rowPrefix(id)})
		defer it.Close()
		// Newest first: the first version valid by tsMs is the answer, and
		// the one after it in this order tells create from update.
		for it.Seek(appendVersionKey(nil, id, ^uint64(0))); it.Valid(); it.Next() {
			item := it.Item()
			_, seq, err := parseVersionKey(item.Key())
			if err != nil {
				return err
			}
			var v Version
			err = item.Value(func(b []byte) error {
				v, err = decodeVersion(b)
				return err
			})
			if err != nil {
				return fmt.Errorf("version %d: %w", seq, err)
			}
			v.Seq = seq
			if at == AtValid {
				out.Op = opAfter(out, v.Deleted)
				done = true
				return nil
			}
			out, at = v, AtBefore
			if v.ValidFromMs <= tsMs {
				at = AtValid
			}
		}
		return nil
	})
	if err != nil {
		return Version{}, AtUnknown, fmt.Errorf("version at %s: %w", id, err)
	}
	if at != AtUnknown && !done {
		out.Op = opAfter(out, true) // the first stored version
	}
	return out, at, nil
}

// SearchScanLimit bounds the rows one Search examines, so that a prefix
// matching nothing cannot make one call walk the whole view; the caller
// continues from the id Search returns.
const SearchScanLimit = 200_000

// Search returns up to limit live rows with id > after (all when after is
// uuid.Nil) whose slug or title starts with prefix, compared case-insensitively
// by Unicode simple folding, in id byte order, from one Badger snapshot. next
// is where to continue (the last row examined) when the scan stopped at limit
// matches or after SearchScanLimit rows; uuid.Nil when it reached the end.
// There is no index: every row from after on is read until one of those
// bounds.
func (s *Store) Search(prefix string, after uuid.UUID, limit int) (recs []Record, next uuid.UUID, err error) {
	return s.search(prefix, after, limit, SearchScanLimit)
}

func (s *Store) search(prefix string, after uuid.UUID, limit, scanLimit int) ([]Record, uuid.UUID, error) {
	if limit <= 0 {
		return nil, uuid.Nil, fmt.Errorf("search: limit %d, want > 0", limit)
	}
	if !utf8.ValidString(prefix) {
		return nil, uuid.Nil, fmt.Errorf("search: prefix is not valid utf-8")
	}
	if s.closed.Load() {
		return nil, uuid.Nil, fmt.Errorf("search: %w", ErrClosed)
	}
	var (
		out     []Record
		next    uuid.UUID // the last row examined, while rows remain
		scanned int
	)
	err := s.db.View(func(txn *badger.Txn) error {
		var seen uuid.UUID
		more, err := eachLatest(txn, after, func(id uuid.UUID, latest []byte) (bool, error) {
			seen = id
			scanned++
			ok, err := valueMatches(latest, prefix)
			if err != nil {
				return false, err
			}
			if ok {
				v, err := decodeVersion(latest)
				if err != nil {
					return false, err
				}
				out = append(out, Record{ID: id, Row: v.Row, Source: v.Source})
			}
			return len(out) == limit || scanned >= scanLimit, nil
		})
		if more {
			next = seen
		}
		return err
	})
	if err != nil {
		return nil, uuid.Nil, fmt.Errorf("search after %s: %w", after, err)
	}
	return out, next, nil
}

// valueMatches reports whether the stored version b is live with a slug or
// title starting with prefix; it reads the value in place, allocating
// nothing, since most rows of a search do not match.
func valueMatches(b []byte, prefix string) (bool, error) {
	d := decoder{b: b}
	if f := d.byte(); f != formatVersion && d.err == nil {
		return false, fmt.Errorf("value format %d: %w", f, errCorrupt)
	}
	flags := d.byte()
	if flags&flagDeleted != 0 {
		return false, d.err
	}
	d.varint() // valid from
	d.varint() // lsn
	if flags&flagContentType != 0 {
		d.bytes()
	}
	if flags&flagLength != 0 {
		d.varint()
	}
	d.varint() // ts
	d.varint() // offset
	d.varint() // partition
	d.bytes()  // topic
	slug := d.bytes()
	title := d.bytes()
	if d.err != nil {
		return false, fmt.Errorf("version value: %w", d.err)
	}
	return hasPrefixFold(slug, prefix) || hasPrefixFold(title, prefix), nil
}

// hasPrefixFold reports whether s starts with prefix under Unicode simple
// case folding, rune by rune as strings.EqualFold compares: a folded rune
// may have another UTF-8 length, so byte lengths cannot be matched up.
func hasPrefixFold(s []byte, prefix string) bool {
	for len(prefix) > 0 {
		if len(s) == 0 {
			return false
		}
		// ASCII against ASCII, the common case, needs no decoding; a
		// non-ASCII rune may still fold to an ASCII one (K, the Kelvin sign).
		if c, p := s[0], prefix[0]; c|p < utf8.RuneSelf {
			if c != p && lowerASCII(c) != lowerASCII(p) {
				return false
			}
			s, prefix = s[1:], prefix[1:]
			continue
		}
		r, n := utf8.DecodeRune(s)
		pr, m := utf8.DecodeRuneInString(prefix)
		s, prefix = s[n:], prefix[m:]
		if r != pr && !foldEq(r, pr) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// foldEq reports whether a and b are in one simple-folding orbit.
func foldEq(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}
