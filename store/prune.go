package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"go.uber.org/zap"
)

// cut drops the first n versions of a row, whose first sequence is firstSeq.
type cut struct {
	id       uuid.UUID
	firstSeq uint64
	n        uint32
}

// prunable returns how many leading versions of e may go at cutoff: those
// superseded before the cutoff, or all of them when the row was deleted
// before it. The latest version of a live row always stays.
func prunable(sh *shard, e *entry, cutoff int64) uint32 {
	if last := &e.latest; last.deleted() && last.validFrom < cutoff {
		return e.n
	}
	var k uint32
	// validFrom never decreases, so the superseded versions form a prefix.
	for k < e.n-1 && sh.at(e, k+1).validFrom < cutoff {
		k++
	}
	return k
}

// Prune deletes the versions that ended before now minus the history
// retention and returns how many it deleted. Lookups as of a time before the
// retention window then see the oldest version kept.
func (s *Store) Prune(now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return 0, fmt.Errorf("prune: %w", ErrClosed)
	}
	cutoff := now.UnixMilli() - s.retention.Milliseconds()
	var cuts []cut
	for i := range s.shards {
		sh := &s.shards[i]
		for id, e := range sh.m { // the writer reads without the shard lock
			if n := prunable(sh, &e, cutoff); n > 0 {
				cuts = append(cuts, cut{id: id, firstSeq: e.firstSeq, n: n})
			}
		}
	}
	p := pruner{s: s, limit: s.maxTxnWrites}
	defer p.discard()
	for _, c := range cuts {
		if err := p.drop(c); err != nil {
			return p.removed, fmt.Errorf("prune: %w", err)
		}
	}
	if err := p.commit(); err != nil {
		return p.removed, fmt.Errorf("prune: %w", err)
	}
	return p.removed, nil
}

// pruner writes cuts, splitting them over transactions as needed; a row's
// cut may itself be split, since any prefix of its history may go.
type pruner struct {
	s       *Store
	txn     *badger.Txn
	limit   int // test cap on deletes per transaction; 0 means Badger's limit
	writes  int
	pending []cut // written to txn, not yet committed
	removed int
}

func (p *pruner) drop(c cut) error {
	var done uint32
	for done < c.n {
		if p.txn == nil {
			p.txn = p.s.db.NewTransaction(true)
		}
		err := errTxnFull
		if p.limit == 0 || p.writes < p.limit {
			err = p.txn.Delete(appendVersionKey(nil, c.id, c.firstSeq+uint64(done)))
			if errors.Is(err, badger.ErrTxnTooBig) {
				err = errTxnFull
			}
		}
		switch {
		case err == nil:
			done++
			p.writes++
			continue
		case !errors.Is(err, errTxnFull):
			return fmt.Errorf("delete row %s: %w", c.id, err)
		}
		if done == 0 && len(p.pending) == 0 {
			return fmt.Errorf("delete row %s: %w", c.id, badger.ErrTxnTooBig)
		}
		if done > 0 {
			p.pending = append(p.pending, cut{id: c.id, firstSeq: c.firstSeq, n: done})
			c.firstSeq += uint64(done)
			c.n -= done
			done = 0
		}
		if err := p.commit(); err != nil {
			return err
		}
	}
	p.pending = append(p.pending, cut{id: c.id, firstSeq: c.firstSeq, n: done})
	return nil
}

func (p *pruner) commit() error {
	if p.txn == nil {
		return nil
	}
	err := p.txn.Commit()
	p.txn = nil
	p.writes = 0
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, c := range p.pending {
		sh := p.s.shardFor(c.id)
		sh.mu.Lock()
		e := sh.m[c.id]
		if c.n >= e.n {
			sh.remove(c.id, &e)
		} else {
			sh.dropPrefix(c.id, &e, c.n)
			sh.m[c.id] = e
		}
		sh.mu.Unlock()
		p.removed += int(c.n)
	}
	p.pending = p.pending[:0]
	return nil
}

func (p *pruner) discard() {
	if p.txn != nil {
		p.txn.Discard()
	}
}

// PruneEvery prunes every interval until ctx ends. A failed prune is logged
// and tried again at the next tick: old versions only cost disk meanwhile.
func (s *Store) PruneEvery(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n, err := s.Prune(time.Now())
			if err != nil {
				s.log.Warn("prune content history", zap.Error(err))
			} else if n > 0 {
				s.log.Info("pruned content history", zap.Int("versions", n))
			}
		}
	}
}
