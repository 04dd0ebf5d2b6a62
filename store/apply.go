package store

import (
	"errors"
	"fmt"
	"math"

	badger "github.com/dgraph-io/badger/v4"
)

// ApplyStats counts the changes of a batch by outcome; a truncate counts as
// one change. Applied+Stale+Noop equals the batch's Len when Apply succeeds.
type ApplyStats struct{ Applied, Stale, Noop int }

func (a *ApplyStats) add(b ApplyStats) {
	a.Applied += b.Applied
	a.Stale += b.Stale
	a.Noop += b.Noop
}

type outcome uint8

const (
	applied outcome = iota
	stale
	noop
)

func (a *ApplyStats) count(o outcome) {
	switch o {
	case applied:
		a.Applied++
	case stale:
		a.Stale++
	case noop:
		a.Noop++
	}
}

// errTxnFull means the current transaction cannot take another write; the
// change that got it is retried in the next transaction.
var errTxnFull = errors.New("transaction full")

// noRoomError means the offsets did not fit after the changes: the attempt
// is discarded and redone with fewer changes.
type noRoomError struct{ writes, offsets int }

func (e *noRoomError) Error() string {
	return fmt.Sprintf("no room for offsets after %d writes", e.writes)
}

// cursor is how much of a batch is committed.
type cursor struct {
	op, adv    int
	truncWrote bool // the truncate at op already wrote deletes in a committed transaction
}

// Apply writes the batch: every change as a new version of its row, and the
// batch's offsets, in one Badger transaction. A batch too big for one
// transaction is split into consecutive transactions, each committing the
// offsets advanced before the first change it leaves out, so the durable
// offsets never run ahead of the durable rows. The index is updated after
// each commit. On error the stats cover the transactions committed so far;
// the caller re-applies the batch, and the committed part is then stale.
func (s *Store) Apply(b *Batch) (ApplyStats, error) {
	var total ApplyStats
	if b == nil || (len(b.ops) == 0 && len(b.advs) == 0) {
		return total, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return total, fmt.Errorf("apply: %w", ErrClosed)
	}
	limit := math.MaxInt
	if s.maxTxnWrites > 0 {
		limit = s.maxTxnWrites
	}
	var cur cursor
	for commits := 0; cur.op < len(b.ops) || cur.adv < len(b.advs); {
		next, st, err := s.applyTxn(b, cur, limit, commits)
		var room *noRoomError
		if errors.As(err, &room) {
			if room.writes <= 1 {
				return total, fmt.Errorf("apply: offsets do not fit in a transaction: %w", badger.ErrTxnTooBig)
			}
			// Offset entries are about as small as the smallest version, so
			// leaving out a couple of changes per offset usually makes room;
			// halving bounds the retries when it does not.
			limit = max(room.writes-2*(room.offsets+1), room.writes/2)
			continue
		}
		if err != nil {
			return total, fmt.Errorf("apply: %w", err)
		}
		total.add(st)
		cur = next
		commits++
	}
	return total, nil
}

// applyTxn commits one transaction starting at cur and returns where the
// next one starts.
func (s *Store) applyTxn(b *Batch, cur cursor, limit, n int) (cursor, ApplyStats, error) {
	t := &s.tx
	t.begin(s, limit)
	defer t.end()
	var st ApplyStats
	next := cur
	for next.op < len(b.ops) {
		// Offsets advanced before this change are covered by what is written.
		next.adv = t.advance(b, next.adv, next.op)
		op := &b.ops[next.op]
		var (
			o   outcome
			err error
		)
		if op.truncate {
			o, err = t.truncate(&op.c.Source, next.truncWrote)
		} else {
			o, err = t.put(&op.c)
		}
		if errors.Is(err, errTxnFull) {
			next.truncWrote = next.truncWrote || (op.truncate && t.truncWrote)
			break
		}
		if err != nil {
			return cur, ApplyStats{}, err
		}
		st.count(o)
		next.op++
		next.truncWrote = false
	}
	next.adv = t.advance(b, next.adv, next.op)
	if t.writes == 0 && next.op == cur.op && next.adv == cur.adv {
		return cur, ApplyStats{}, fmt.Errorf("change %d does not fit in one transaction: %w", cur.op, badger.ErrTxnTooBig)
	}
	if err := t.writeOffsets(); err != nil {
		if errors.Is(err, errTxnFull) {
			return cur, ApplyStats{}, &noRoomError{writes: t.writes, offsets: len(t.offsets)}
		}
		return cur, ApplyStats{}, err
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(n); err != nil {
			return cur, ApplyStats{}, err
		}
	}
	if err := t.txn.Commit(); err != nil {
		return cur, ApplyStats{}, fmt.Errorf("commit: %w", err)
	}
	t.publish()
	return next, st, nil
}

// put applies one row change to the transaction.
func (t *txnState) put(c *Change) (outcome, error) {
	p := &t.rows[t.touch(c.ID)]
	if t.stale(&c.Source, p) {
		return stale, nil
	}
	if c.Delete && (!p.hasLatest || p.latest.deleted()) {
		return noop, nil
	}
	if c.Delete {
		return applied, t.write(p, nil, &c.Source, false)
	}
	row := c.Row
	if c.Keep != 0 && p.hasLatest && !p.latest.deleted() {
		prev, err := t.latestRow(p)
		if err != nil {
			return 0, err
		}
		keepColumns(&row, prev, c.Keep)
	}
	return applied, t.write(p, &row, &c.Source, false)
}

// stale reports whether a change was already applied or predates the last
// truncate. With its LSN known that decides; without one (the flattened
// forms) only a commit time before the truncate's makes it stale, because a
// truncate on another partition may have been read before it.
func (t *txnState) stale(src *Source, p *pendingRow) bool {
	lsn := src.LSN
	if lsn == 0 {
		return t.truncTs != 0 && src.TsMs < t.truncTs
	}
	if t.truncLSN != 0 && lsn < t.truncLSN {
		return true
	}
	return p.hasLatest && p.latest.lsn != 0 && lsn <= p.latest.lsn
}

func keepColumns(row *Row, prev *Row, keep Columns) {
	if keep&ColSlug != 0 {
		row.Slug = prev.Slug
	}
	if keep&ColTitle != 0 {
		row.Title = prev.Title
	}
	if keep&ColContentType != 0 {
		row.ContentType = prev.ContentType
	}
}

// truncate writes a delete version for every live row. It may span
// transactions (errTxnFull part way); being idempotent per row, it simply
// resumes over the rows still live. The watermark is written with the last
// part, so a crash part way leaves the truncate to be re-delivered, not stale.
func (t *txnState) truncate(src *Source, wroteBefore bool) (outcome, error) {
	if src.LSN != 0 && t.truncLSN != 0 && src.LSN <= t.truncLSN {
		return stale, nil
	}
	t.truncWrote = false
	for _, id := range t.liveIDs() {
		p := &t.rows[t.touch(id)]
		// A row whose latest change committed after the truncate arrived
		// first from another partition; it survives the truncate.
		if src.LSN != 0 && p.latest.lsn > src.LSN {
			continue
		}
		if p.latest.lsn == 0 && src.TsMs != 0 && p.latest.validFrom > src.TsMs {
			continue // no LSN to compare: a later commit time says it came after
		}
		if err := t.write(p, nil, src, true); err != nil {
			return 0, err
		}
		t.truncWrote = true
	}
	if src.TsMs > t.truncTs {
		if err := t.set(keyTruncTs, int64Value(src.TsMs)); err != nil {
			return 0, err
		}
		t.truncTs = src.TsMs
	}
	if src.LSN != 0 {
		if err := t.set(keyTruncate, int64Value(src.LSN)); err != nil {
			return 0, err
		}
		t.truncLSN = src.LSN
		return applied, nil
	}
	if t.truncWrote || wroteBefore {
		return applied, nil
	}
	return noop, nil
}
