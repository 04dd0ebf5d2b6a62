package store

import (
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// txnState is the writer's overlay for one Badger transaction: rows as the
// transaction leaves them, and offsets it advances. Nothing reaches the
// index until the commit succeeds (publish).
type txnState struct {
	s          *Store
	txn        *badger.Txn
	limit      int // writes allowed in this transaction
	writes     int
	truncLSN   int64 // watermark as of this transaction
	truncTs    int64 // commit time of the last truncate as of this transaction
	truncWrote bool  // the truncate in progress wrote in this transaction

	rows    []pendingRow
	idx     map[uuid.UUID]int
	offsets map[TopicPartition]int64
	ids     []uuid.UUID // scratch for liveIDs
	order   []int32     // scratch for publish: rows by shard
	odd     []oddType   // content types written that have no slot in the type table

	arena   arena
	ents    entrySlabs
	scratch []byte
}

// pendingRow is one touched row.
type pendingRow struct {
	id        uuid.UUID
	shard     uint8
	base      entry // the index entry when touched; publish extends it without a second lookup
	existed   bool  // the index had an entry when the row was touched
	wasLive   bool
	firstSeq  uint64
	nextSeq   uint64
	latest    version
	hasLatest bool
	row       Row // the latest version's full row, when rowKnown
	rowKnown  bool
	added     []version
}

// oddType is the content type of a flagOddType version, published with it.
type oddType struct {
	key  verKey
	name string
}

// Scratch bigger than this after a transaction (a truncate of a large view)
// is dropped rather than kept for the next one. It is well above the batches
// cdc applies (4096 records by default): append grows rows past 4096 to a
// capacity above it, and a bound at 4096 made every such batch reallocate.
const keepScratch = 1 << 14

func (t *txnState) begin(s *Store, limit int) {
	t.s = s
	t.txn = s.db.NewTransaction(true)
	t.limit = limit
	t.writes = 0
	t.truncLSN = s.truncLSN.Load()
	t.truncTs = s.truncTs.Load()
	t.truncWrote = false
	if t.idx == nil {
		t.idx = map[uuid.UUID]int{}
		t.offsets = map[TopicPartition]int64{}
	}
}

func (t *txnState) end() {
	t.txn.Discard()
	t.txn = nil
	for i := range t.rows {
		t.rows[i].row = Row{} // do not pin the batch's strings
	}
	t.rows = t.rows[:0]
	if cap(t.rows) > keepScratch {
		t.rows = nil
	}
	if len(t.idx) > keepScratch {
		t.idx = map[uuid.UUID]int{}
	} else {
		clear(t.idx)
	}
	clear(t.offsets)
	clear(t.odd) // do not pin the batch's strings
	t.odd = t.odd[:0]
	if cap(t.ids) > keepScratch {
		t.ids = nil
	}
	if cap(t.order) > keepScratch {
		t.order = nil
	}
	// Badger reads keys, values and entries until the transaction ends: by
	// the time Commit returns it has copied them into its memtable (nothing
	// subscribes to its changes, which would read them later), so the next
	// transaction may overwrite them. Reusing them saves more than the
	// allocations: fresh memory costs a page fault per 4 KiB, and fresh
	// arenas were ~8% of Apply's CPU.
	t.arena.reset()
	t.ents.reset()
}

// touch returns the index in t.rows of the row's overlay, creating it from
// the index on first use.
func (t *txnState) touch(id uuid.UUID) int {
	if i, ok := t.idx[id]; ok {
		return i
	}
	i := len(t.rows)
	var added []version
	if i < cap(t.rows) {
		added = t.rows[:i+1][i].added[:0]
	}
	t.rows = append(t.rows, pendingRow{id: id, shard: shardOf(id), added: added})
	p := &t.rows[i]
	// Read without the shard lock: only the writer, which holds s.mu, mutates.
	if e, ok := t.s.shards[p.shard].m[id]; ok {
		p.base, p.existed = e, true
		p.firstSeq, p.nextSeq = e.firstSeq, e.nextSeq()
		p.latest, p.hasLatest = e.latest, true
		p.wasLive = e.live()
	}
	t.idx[id] = i
	return i
}

// write adds a version (a delete when row is nil, a truncate's when
// truncated) after the row's latest.
func (t *txnState) write(p *pendingRow, row *Row, src *Source, truncated bool) error {
	if t.writes >= t.limit {
		return errTxnFull
	}
	validFrom := src.TsMs
	if p.hasLatest && validFrom < p.latest.validFrom {
		validFrom = p.latest.validFrom // valid-from never goes back, so AsOf can bisect
	}
	t.scratch = appendVersionKey(t.scratch[:0], p.id, p.nextSeq)
	key := t.arena.hold(t.scratch)
	t.scratch = appendValue(t.scratch[:0], row == nil, truncated, row, src, validFrom)
	val := t.arena.hold(t.scratch)
	if err := t.setEntry(key, val); err != nil {
		return fmt.Errorf("write row %s: %w", p.id, err)
	}
	v := version{validFrom: validFrom, lsn: src.LSN, flags: flagDeleted}
	if row != nil {
		v.flags = 0
		if row.ContentType.Valid {
			v.flags |= flagContentType
			t.setType(p, &v, row.ContentType.String)
		}
		if row.LengthSeconds.Valid {
			v.flags |= flagLength
			v.length = row.LengthSeconds.Int32
		}
		p.row, p.rowKnown = *row, true
	} else {
		p.row, p.rowKnown = Row{}, false
	}
	p.added = append(p.added, v)
	p.latest, p.hasLatest = v, true
	p.nextSeq++
	t.writes++
	return nil
}

// setType numbers v's content type, which the row's latest version usually
// shares; without a slot the text goes to the odd map on publish.
func (t *txnState) setType(p *pendingRow, v *version, name string) {
	types := &t.s.types
	if l := &p.latest; p.hasLatest && l.flags&(flagContentType|flagOddType) == flagContentType && types.names[l.ctype] == name {
		v.ctype = l.ctype
		return
	}
	if n, ok := types.id(name); ok {
		v.ctype = n
		return
	}
	v.flags |= flagOddType
	t.odd = append(t.odd, oddType{key: verKey{p.id, p.nextSeq}, name: name})
}

func (t *txnState) set(key, val []byte) error {
	if err := t.setEntry(key, val); err != nil {
		return fmt.Errorf("write %x: %w", key, err)
	}
	return nil
}

// setEntry maps ErrTxnTooBig to errTxnFull: the entry was not added.
func (t *txnState) setEntry(key, val []byte) error {
	e := t.ents.next()
	*e = badger.Entry{Key: key, Value: val}
	err := t.txn.SetEntry(e)
	if errors.Is(err, badger.ErrTxnTooBig) {
		return errTxnFull
	}
	return err
}

// latestRow returns the full row of p's latest version, reading Badger when
// it was not written by this transaction (TOAST placeholders are rare).
func (t *txnState) latestRow(p *pendingRow) (*Row, error) {
	if p.rowKnown {
		return &p.row, nil
	}
	item, err := t.txn.Get(appendVersionKey(nil, p.id, p.nextSeq-1))
	if err != nil {
		return nil, fmt.Errorf("read row %s: %w", p.id, err)
	}
	var v Version
	err = item.Value(func(b []byte) error {
		var err error
		v, err = decodeVersion(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read row %s: %w", p.id, err)
	}
	p.row, p.rowKnown = v.Row, true
	return &p.row, nil
}

// liveIDs lists the rows live as of this transaction.
func (t *txnState) liveIDs() []uuid.UUID {
	ids := t.ids[:0]
	for i := range t.s.shards {
		for id, e := range t.s.shards[i].m {
			if _, touched := t.idx[id]; !touched && e.live() {
				ids = append(ids, id)
			}
		}
	}
	for i := range t.rows {
		if p := &t.rows[i]; p.hasLatest && !p.latest.deleted() {
			ids = append(ids, p.id)
		}
	}
	t.ids = ids
	return ids
}

// advance folds in the batch's advances recorded before op pos.
func (t *txnState) advance(b *Batch, from, pos int) int {
	for ; from < len(b.advs) && b.advs[from].at <= pos; from++ {
		t.offsets[b.advs[from].tp] = b.advs[from].next
	}
	return from
}

func (t *txnState) writeOffsets() error {
	for tp, next := range t.offsets {
		if err := t.set(offsetKey(tp), int64Value(next)); err != nil {
			return err
		}
	}
	return nil
}

// publish makes a committed transaction visible to readers.
func (t *txnState) publish() {
	s := t.s
	// Odd content types first: a reader finding a version must find its text.
	for _, o := range t.odd {
		sh := s.shardFor(o.key.id)
		sh.mu.Lock()
		sh.setOdd(o.key, o.name)
		sh.mu.Unlock()
	}
	// Shard by shard: one lock each, and each shard's map and arena are
	// touched in one go rather than at random.
	var start [shardCount + 1]int32
	for i := range t.rows {
		start[t.rows[i].shard+1]++
	}
	for i := 1; i <= shardCount; i++ {
		start[i] += start[i-1]
	}
	t.order = slices.Grow(t.order[:0], len(t.rows))[:len(t.rows)]
	next := start
	for i := range t.rows {
		sh := t.rows[i].shard
		t.order[next[sh]] = int32(i)
		next[sh]++
	}
	var delta int64
	for n := range shardCount {
		rows := t.order[start[n]:start[n+1]]
		if len(rows) == 0 {
			continue
		}
		sh := &s.shards[n]
		sh.mu.Lock()
		for _, i := range rows {
			p := &t.rows[i]
			if len(p.added) == 0 {
				continue
			}
			e := p.base // still current: only the writer changes the index
			if !p.existed {
				e = entry{firstSeq: p.firstSeq}
			}
			sh.extend(&e, p.added)
			sh.m[p.id] = e
			if live := !p.latest.deleted(); live != p.wasLive {
				if live {
					delta++
				} else {
					delta--
				}
			}
		}
		sh.mu.Unlock()
	}
	s.live.Add(delta)
	s.truncLSN.Store(t.truncLSN)
	s.truncTs.Store(t.truncTs)
	if len(t.offsets) > 0 {
		s.offMu.Lock()
		for tp, next := range t.offsets {
			s.offsets[tp] = next
		}
		s.offMu.Unlock()
	}
}

// Scratch kept for the next transaction: more than the batches cdc applies
// (4096 changes of ~150 bytes) need, so only a truncate of a large view or
// a huge batch gives memory back.
const (
	arenaChunk = 64 << 10
	keepArena  = 16 // chunks
	entrySlab  = 256
	keepSlabs  = 32
)

// arena hands out byte slices that stay put until reset: Badger keeps every
// key and value of a transaction until it ends.
type arena struct {
	chunks [][]byte // chunks[cur] is being filled; those after it are free
	cur    int
}

func (a *arena) hold(b []byte) []byte {
	if len(a.chunks) == 0 {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(b))))
	}
	c := a.chunks[a.cur]
	for cap(c)-len(c) < len(b) {
		a.cur++
		if a.cur == len(a.chunks) {
			a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(b))))
		}
		c = a.chunks[a.cur]
	}
	n := len(c)
	c = append(c, b...)
	a.chunks[a.cur] = c
	return c[n:len(c):len(c)]
}

func (a *arena) reset() {
	for i := range a.chunks {
		a.chunks[i] = a.chunks[i][:0]
	}
	if len(a.chunks) > keepArena {
		clear(a.chunks[keepArena:])
		a.chunks = a.chunks[:keepArena]
	}
	a.cur = 0
}

// entrySlabs hands out Entries that stay put until reset: Badger keeps a
// pointer to each until the transaction ends.
type entrySlabs struct {
	slabs [][]badger.Entry // slabs[cur] is being filled; those after it are free
	cur   int
}

func (s *entrySlabs) next() *badger.Entry {
	if len(s.slabs) == 0 {
		s.slabs = append(s.slabs, make([]badger.Entry, 0, entrySlab))
	}
	if len(s.slabs[s.cur]) == entrySlab {
		s.cur++
		if s.cur == len(s.slabs) {
			s.slabs = append(s.slabs, make([]badger.Entry, 0, entrySlab))
		}
	}
	sl := append(s.slabs[s.cur], badger.Entry{})
	s.slabs[s.cur] = sl
	return &sl[len(sl)-1]
}

func (s *entrySlabs) reset() {
	for i := range s.slabs {
		clear(s.slabs[i]) // Badger swapped in keys of its own: do not pin them
		s.slabs[i] = s.slabs[i][:0]
	}
	if len(s.slabs) > keepSlabs {
		clear(s.slabs[keepSlabs:])
		s.slabs = s.slabs[:keepSlabs]
	}
	s.cur = 0
}
