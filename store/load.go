package store

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// loadSafe builds the index and returns the number of versions loaded; a
// damaged table can make Badger panic, and Open promises an error instead.
func (s *Store) loadSafe() (versions int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("load index: damaged data: badger panicked: %v", r)
		}
	}()
	// Badger's iterators end quietly at a damaged block, which would load
	// half a view; its table checks at open panic in goroutines we cannot
	// recover. Verifying here, in our goroutine, turns damage into an error.
	if err := s.db.VerifyChecksum(); err != nil {
		return 0, fmt.Errorf("verify tables: %w", err)
	}
	if err := s.ensureFormat(); err != nil {
		return 0, err
	}
	return s.load()
}

// ensureFormat stamps a new directory and refuses one written in another format.
func (s *Store) ensureFormat() error {
	return s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(keyFormat)
		if errors.Is(err, badger.ErrKeyNotFound) {
			if err := s.checkEmpty(txn); err != nil {
				return err
			}
			return txn.Set(keyFormat, []byte{formatVersion})
		}
		if err != nil {
			return fmt.Errorf("read format: %w", err)
		}
		return item.Value(func(v []byte) error {
			if len(v) != 1 || v[0] != formatVersion {
				return fmt.Errorf("format %x, want %d: %w", v, formatVersion, errCorrupt)
			}
			return nil
		})
	})
}

func (s *Store) checkEmpty(txn *badger.Txn) error {
	it := txn.NewIterator(badger.IteratorOptions{})
	defer it.Close()
	it.Rewind()
	if it.Valid() {
		return fmt.Errorf("data without a format marker (key %x): %w", it.Item().Key(), errCorrupt)
	}
	return nil
}

// load reads every key once: meta keys into offsets and the watermark,
// version keys into the index. No reader can see the index yet, so it is
// built without the shard locks.
func (s *Store) load() (versions int, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		// No value prefetch: values live in the LSM tree (far below the
		// value threshold) and Badger prefetches with a goroutine per item.
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		var (
			cur      uuid.UUID
			firstSeq uint64
			vers     []version // cur's versions so far; reused
		)
		flush := func() {
			if len(vers) == 0 {
				return
			}
			sh := s.shardFor(cur)
			e := entry{firstSeq: firstSeq}
			sh.extend(&e, vers)
			sh.m[cur] = e
			if e.live() {
				s.live.Add(1)
			}
			vers = vers[:0]
		}
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			switch {
			case len(k) > 0 && k[0] == prefixVersion:
				id, seq, err := parseVersionKey(k)
				if err != nil {
					return err
				}
				if len(vers) == 0 || id != cur {
					flush()
					cur, firstSeq = id, seq
				} else if next := firstSeq + uint64(len(vers)); seq != next {
					return fmt.Errorf("row %s: sequence %d after %d: %w", id, seq, next-1, errCorrupt)
				}
				var v version
				err = item.Value(func(b []byte) error {
					var (
						ctype []byte
						err   error
					)
					if v, ctype, err = decodeProjection(b); err != nil || v.flags&flagContentType == 0 {
						return err
					}
					if n, ok := s.types.idBytes(ctype); ok {
						v.ctype = n
					} else {
						v.flags |= flagOddType
						s.shardFor(id).setOdd(verKey{id, seq}, string(ctype))
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("row %s version %d: %w", id, seq, err)
				}
				if n := len(vers); n > 0 && v.validFrom < vers[n-1].validFrom {
					return fmt.Errorf("row %s version %d: valid-from goes back: %w", id, seq, errCorrupt)
				}
				vers = append(vers, v)
				versions++
			case len(k) > 1 && k[0] == prefixMeta:
				if err := s.loadMeta(item); err != nil {
					return err
				}
			default:
				return fmt.Errorf("unexpected key %x: %w", k, errCorrupt)
			}
		}
		flush()
		return nil
	})
	return versions, err
}

func (s *Store) loadMeta(item *badger.Item) error {
	k := item.Key()
	var val int64
	err := item.Value(func(v []byte) error {
		if k[1] == metaFormat {
			return nil
		}
		var err error
		val, err = parseInt64Value(v)
		return err
	})
	if err != nil {
		return fmt.Errorf("meta key %x: %w", k, err)
	}
	switch k[1] {
	case metaFormat:
	case metaTruncate:
		s.truncLSN.Store(val)
	case metaTruncTs:
		s.truncTs.Store(val)
	case metaOffset:
		tp, err := parseOffsetKey(k)
		if err != nil {
			return err
		}
		s.offsets[tp] = val
	default:
		return fmt.Errorf("unknown meta key %x: %w", k, errCorrupt)
	}
	return nil
}
