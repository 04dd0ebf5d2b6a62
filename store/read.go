package store

import (
	"bytes"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Version is one stored version of a row.
type Version struct {
	Seq         uint64 // per-row sequence, in apply order
	Deleted     bool   // a tombstone version; Row is zero
	Row         Row
	Source      Source
	ValidFromMs int64 // Source.TsMs, raised to the previous version's when it went back
	Op          Op    // exact in History and VersionAt; elsewhere a create reads as update
}

// Get reads the row's latest version from Badger; false when the row is
// unknown or deleted.
func (s *Store) Get(id uuid.UUID) (Record, bool, error) {
	if s.closed.Load() {
		return Record{}, false, fmt.Errorf("get %s: %w", id, ErrClosed)
	}
	var (
		v     Version
		found bool
	)
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := rowPrefix(id)
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: prefix})
		defer it.Close()
		it.Seek(appendVersionKey(nil, id, ^uint64(0)))
		if !it.Valid() {
			return nil
		}
		found = true
		return it.Item().Value(func(b []byte) error {
			var err error
			v, err = decodeVersion(b)
			return err
		})
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("get %s: %w", id, err)
	}
	if !found || v.Deleted {
		return Record{}, false, nil
	}
	return Record{ID: id, Row: v.Row, Source: v.Source}, true, nil
}

// History returns every stored version of the row, oldest first.
func (s *Store) History(id uuid.UUID) ([]Version, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("history %s: %w", id, ErrClosed)
	}
	var out []Version
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := rowPrefix(id)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.Valid(); it.Next() {
			item := it.Item()
			_, seq, err := parseVersionKey(item.Key())
			if err != nil {
				return err
			}
			err = item.Value(func(b []byte) error {
				v, err := decodeVersion(b)
				v.Seq = seq
				v.Op = opAfter(v, len(out) == 0 || out[len(out)-1].Deleted)
				out = append(out, v)
				return err
			})
			if err != nil {
				return fmt.Errorf("version %d: %w", seq, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", id, err)
	}
	return out, nil
}

// List returns up to limit live rows with id > after (all rows when after is
// uuid.Nil), in id byte order, from one consistent Badger snapshot.
func (s *Store) List(after uuid.UUID, limit int) ([]Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list: limit %d, want > 0", limit)
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("list: %w", ErrClosed)
	}
	var out []Record
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := eachLatest(txn, after, func(id uuid.UUID, latest []byte) (bool, error) {
			v, err := decodeVersion(latest)
			if err != nil {
				return false, err
			}
			if !v.Deleted {
				out = append(out, Record{ID: id, Row: v.Row, Source: v.Source})
			}
			return len(out) == limit, nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list after %s: %w", after, err)
	}
	return out, nil
}

// eachLatest calls fn with the latest version of each row with id > after
// (every row when after is uuid.Nil), in id byte order, until fn says stop.
// more reports whether fn stopped with rows left to read. latest is reused
// between calls. List and Search read rows this way: the view keeps every
// version, and only the last of a row's run of keys decides what it is now.
func eachLatest(txn *badger.Txn, after uuid.UUID, fn func(id uuid.UUID, latest []byte) (stop bool, err error)) (more bool, err error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixVersion}})
	defer it.Close()
	start := []byte{prefixVersion}
	if after != uuid.Nil {
		start = appendVersionKey(nil, after, ^uint64(0))
	}
	var (
		cur  uuid.UUID
		last []byte // value of cur's latest version seen so far
		have bool
	)
	for it.Seek(start); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		if len(k) != versionKeyLen {
			return false, fmt.Errorf("version key %x: %w", k, errCorrupt)
		}
		if after != uuid.Nil && bytes.Equal(k[1:17], after[:]) {
			continue
		}
		if !have || !bytes.Equal(k[1:17], cur[:]) {
			// Every version of cur has been seen: decide on it.
			if have {
				stop, err := fn(cur, last)
				if err != nil {
					return false, fmt.Errorf("row %s: %w", cur, err)
				}
				if stop {
					return true, nil
				}
			}
			copy(cur[:], k[1:17])
			have = true
		}
		var err error
		if last, err = item.ValueCopy(last[:0]); err != nil {
			return false, fmt.Errorf("row %s: %w", cur, err)
		}
	}
	if have {
		if _, err := fn(cur, last); err != nil {
			return false, fmt.Errorf("row %s: %w", cur, err)
		}
	}
	return false, nil
}
