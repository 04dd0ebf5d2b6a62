package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/retry"
)

// relation is a table as the stream describes it (pgoutput Relation
// message); t is nil for a table that is published but not captured.
type relation struct {
	t    *table
	cols []column
	pk   []int
}

// confirmEvery is the least time between two confirmations while records
// flow: a status update is 34 bytes, so the unconfirmed tail a crash repeats
// stays small (tens of rows at thousands of commits per second).
const confirmEvery = 10 * time.Millisecond

// streamer turns decoded WAL into records. Only Run's goroutine uses it.
type streamer struct {
	c    *Capture
	conn *pgx.Conn      // catalog queries and the snapshot
	repl *pgconn.PgConn // the replication connection
	sink *sink
	env  envelope
	db   string

	started bool
	rels    map[uint32]*relation
	// The open transaction.
	inTx       bool
	xid        uint32
	commitTime time.Time
	lastCommit pglogrepl.LSN // end of the last transaction seen (sequence[0])
	pending    []kafka.Message
	arena      []byte
	oldCells   []cell
	newCells   []cell
	// Positions.
	received     pglogrepl.LSN // highest WAL position received
	lastEnqueued pglogrepl.LSN // end of the last transaction handed to the sink
	idleEnd      pglogrepl.LSN // WAL end reported while no transaction was open
	sentFlush    pglogrepl.LSN
	lastStatus   time.Time
}

func (s *streamer) startReplication(ctx context.Context, start pglogrepl.LSN) error {
	opts := pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names '" + s.c.cfg.Publication + "'"}}
	deadline := time.Now().Add(s.c.slotActiveWait)
	for attempt := 0; ; attempt++ {
		err := pglogrepl.StartReplication(ctx, s.repl, s.c.cfg.Slot, start, opts)
		var pgErr *pgconn.PgError
		// A previous run's walsender may still hold the slot for a moment.
		if errors.As(err, &pgErr) && pgErr.Code == "55006" && time.Now().Before(deadline) {
			s.c.log.Info("slot is still active; waiting", zap.String("slot", s.c.cfg.Slot), zap.String("detail", pgErr.Message))
			if err := (retry.Backoff{Min: 50 * time.Millisecond, Max: time.Second}).Wait(ctx, attempt); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("start replication from %s: %w", start, err)
		}
		return nil
	}
}

// stream reads the replication stream from start until ctx ends.
func (s *streamer) stream(ctx context.Context, start pglogrepl.LSN) error {
	if err := s.startReplication(ctx, start); err != nil {
		return err
	}
	s.started = true
	s.received, s.lastEnqueued, s.sentFlush = start, start, start
	s.rels = map[uint32]*relation{}
	s.c.log.Info("streaming", zap.String("slot", s.c.cfg.Slot), zap.Stringer("from", start))
	// Reads wake up at least every statusInterval (to confirm what Kafka
	// acknowledged meanwhile) and at once when ctx ends.
	nc := s.repl.Conn()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) })
	defer stop()
	for ctx.Err() == nil {
		now := time.Now()
		if pos := s.confirmable(); pos > s.sentFlush && now.Sub(s.lastStatus) >= confirmEvery || now.Sub(s.lastStatus) >= s.c.heartbeat {
			if err := s.sendStatus(now); err != nil {
				return fmt.Errorf("confirm: %w", err)
			}
		}
		_ = nc.SetReadDeadline(now.Add(s.c.statusInterval))
		msg, err := s.repl.ReceiveMessage(context.Background())
		if err != nil {
			var ne net.Error
			if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if err := s.copyData(ctx, m.Data); err != nil {
				return err
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyDone:
			return errors.New("replication: server ended the stream")
		}
	}
	return nil
}

func (s *streamer) copyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("keepalive: %w", err)
		}
		s.serverEnd(k.ServerWALEnd)
		if !s.inTx && k.ServerWALEnd > s.idleEnd {
			s.idleEnd = k.ServerWALEnd
		}
		if k.ReplyRequested {
			return s.sendStatus(time.Now())
		}
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("xlog data: %w", err)
		}
		s.serverEnd(x.ServerWALEnd)
		if x.WALStart > s.received {
			s.received = x.WALStart
		}
		return s.walMessage(ctx, x)
	}
	return nil
}

func (s *streamer) serverEnd(lsn pglogrepl.LSN) {
	if uint64(lsn) > s.c.serverWALEnd.Load() {
		s.c.serverWALEnd.Store(uint64(lsn))
	}
}

// confirmable is the position Postgres may forget: the end of the last
// transaction Kafka acknowledged, or, when every transaction handed over is
// acknowledged and none is open, the WAL end the server reported since (it
// has sent every change committed before it).
func (s *streamer) confirmable() pglogrepl.LSN {
	pos := s.sink.ackedLSN()
	if !s.inTx && pos >= s.lastEnqueued && s.idleEnd > pos {
		pos = s.idleEnd
	}
	return pos
}

func (s *streamer) sendStatus(now time.Time) error {
	pos := s.confirmable()
	if pos < s.sentFlush {
		pos = s.sentFlush
	}
	write := max(s.received, pos)
	if err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: write, WALFlushPosition: pos, WALApplyPosition: pos, ClientTime: now,
		ReplyRequested: now.Sub(s.lastStatus) >= s.c.heartbeat,
	}); err != nil {
		return err
	}
	s.sentFlush, s.lastStatus = pos, now
	s.c.confirmedLSN.Store(uint64(pos))
	s.c.m.confirmed.Set(float64(pos))
	if end := pglogrepl.LSN(s.c.serverWALEnd.Load()); end > pos {
		s.c.m.lag.Set(float64(end - pos))
	} else {
		s.c.m.lag.Set(0)
	}
	return nil
}

func (s *streamer) walMessage(ctx context.Context, x pglogrepl.XLogData) error {
	msg, err := pglogrepl.Parse(x.WALData)
	if err != nil {
		return fmt.Errorf("decode wal message at %s: %w", x.WALStart, err)
	}
	src := source{snapshot: "false", lastCommit: s.lastCommit, lsn: x.WALStart, txID: int64(s.xid), ts: s.commitTime}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		return s.relation(ctx, m)
	case *pglogrepl.BeginMessage:
		s.inTx, s.xid, s.commitTime = true, m.Xid, m.CommitTime
	case *pglogrepl.CommitMessage:
		if err := s.flush(ctx, m.TransactionEndLSN, s.commitTime); err != nil {
			return err
		}
		s.inTx, s.lastCommit, s.lastEnqueued = false, m.TransactionEndLSN, m.TransactionEndLSN
	case *pglogrepl.InsertMessage:
		if rel := s.rel(m.RelationID); rel != nil {
			s.newCells = tuple(s.newCells, m.Tuple)
			return s.add(ctx, rel, 'c', &src, nil, s.newCells, false, nil)
		}
	case *pglogrepl.UpdateMessage:
		if rel := s.rel(m.RelationID); rel != nil {
			return s.update(ctx, rel, &src, m)
		}
	case *pglogrepl.DeleteMessage:
		if rel := s.rel(m.RelationID); rel != nil {
			s.oldCells = tuple(s.oldCells, m.OldTuple)
			return s.add(ctx, rel, 'd', &src, s.oldCells, nil, m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey, nil)
		}
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if rel := s.rel(id); rel != nil {
				if err := s.add(ctx, rel, 't', &src, nil, nil, false, nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *streamer) rel(id uint32) *relation {
	if r := s.rels[id]; r != nil && r.t != nil {
		return r
	}
	return nil
}

// update writes u, or, when the primary key changed, d + tombstone for the
// old key and c for the new one (as Debezium does, with its key headers).
func (s *streamer) update(ctx context.Context, rel *relation, src *source, m *pglogrepl.UpdateMessage) error {
	s.newCells = tuple(s.newCells, m.NewTuple)
	var old []cell
	if m.OldTuple != nil {
		s.oldCells = tuple(s.oldCells, m.OldTuple)
		old = s.oldCells
	}
	keyOnly := m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey
	oldKey := appendKey(nil, rel.cols, rel.pk, old)
	newKey := appendKey(nil, rel.cols, rel.pk, s.newCells)
	if old == nil || oldKey == nil || bytes.Equal(oldKey, newKey) {
		if keyOnly {
			old = nil
		}
		return s.add(ctx, rel, 'u', src, old, s.newCells, false, nil)
	}
	if err := s.add(ctx, rel, 'd', src, old, nil, keyOnly, []kafka.Header{{Key: "__debezium.newkey", Value: newKey}}); err != nil {
		return err
	}
	return s.add(ctx, rel, 'c', src, nil, s.newCells, false, []kafka.Header{{Key: "__debezium.oldkey", Value: oldKey}})
}

func tuple(dst []cell, t *pglogrepl.TupleData) []cell {
	dst = dst[:0]
	if t == nil {
		return dst
	}
	for _, col := range t.Columns {
		dst = append(dst, cell{kind: col.DataType, data: col.Data})
	}
	return dst
}

// relation records a Relation message, matching its columns with the
// catalog (re-read when they differ: the table changed) for nullability and
// the primary key.
func (s *streamer) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	var t *table
	for _, ct := range s.c.tables {
		if ct.schema == m.Namespace && ct.name == m.RelationName {
			t = ct
		}
	}
	if t == nil {
		s.rels[m.RelationID] = &relation{}
		s.c.log.Debug("published table is not captured", zap.String("table", m.Namespace+"."+m.RelationName))
		return nil
	}
	for _, mc := range m.Columns {
		if c, ok := t.column(mc.Name); !ok || c.oid != mc.DataType {
			if err := t.load(ctx, s.conn); err != nil {
				return fmt.Errorf("reload %s after a schema change: %w", t.ident, err)
			}
			break
		}
	}
	rel := &relation{t: t, cols: make([]column, len(m.Columns))}
	for i, mc := range m.Columns {
		c, _ := t.column(mc.Name)
		rel.cols[i] = newColumn(mc.Name, mc.DataType, c.notNull)
	}
	for _, p := range t.pk {
		for i, c := range rel.cols {
			if c.name == t.cols[p].name {
				rel.pk = append(rel.pk, i)
			}
		}
	}
	s.rels[m.RelationID] = rel
	return nil
}

// add encodes one change record (for d also its tombstone) into the open
// batch. before and after are nil for a null image; keyOnly marks a before
// image holding only the key (REPLICA IDENTITY DEFAULT).
func (s *streamer) add(ctx context.Context, rel *relation, op byte, src *source, before, after []cell, keyOnly bool, hdr []kafka.Header) error {
	if len(s.arena) > 1<<20 {
		s.arena = nil // records keep the old arena; never written again
	}
	if s.arena == nil {
		s.arena = make([]byte, 0, 2<<20)
	}
	var key []byte
	if img := after; img != nil || before != nil {
		if img == nil {
			img = before
		}
		k := len(s.arena)
		s.arena = appendKey(s.arena, rel.cols, rel.pk, img)
		key = s.arena[k:len(s.arena):len(s.arena)]
		if len(key) == 0 {
			key = nil
		}
	}
	var b, a []byte
	if before != nil {
		k := len(s.arena)
		s.arena = appendRow(s.arena, rel.cols, before, keyOnly)
		b = s.arena[k:len(s.arena):len(s.arena)]
	}
	if after != nil {
		k := len(s.arena)
		s.arena = appendRow(s.arena, rel.cols, after, false)
		a = s.arena[k:len(s.arena):len(s.arena)]
	}
	now := time.Now()
	src.tbl = rel.t
	k := len(s.arena)
	s.arena = s.env.append(s.arena, b, a, src, op, now)
	s.pending = append(s.pending, kafka.Message{Topic: rel.t.topic, Key: key, Value: s.arena[k:len(s.arena):len(s.arena)], Headers: hdr, Time: now})
	if op == 'd' && key != nil {
		s.pending = append(s.pending, kafka.Message{Topic: rel.t.topic, Key: key, Time: now})
	}
	if op != 'r' {
		s.c.streamRows.Add(1)
		s.c.m.rows.WithLabelValues(rel.t.name, string(op)).Inc()
	}
	if len(s.pending) >= chunk {
		return s.flush(ctx, 0, time.Time{})
	}
	return nil
}

// flush hands the open batch to the sink; end > 0 closes a transaction.
func (s *streamer) flush(ctx context.Context, end pglogrepl.LSN, commit time.Time) error {
	it := item{msgs: s.pending, end: end, commit: commit}
	s.pending = nil
	return s.send(ctx, it)
}

// barrier waits until Kafka acknowledged everything handed over so far.
func (s *streamer) barrier(ctx context.Context) error {
	done := make(chan struct{})
	if err := s.send(ctx, item{done: done}); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-s.sink.failed:
		return s.sink.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *streamer) send(ctx context.Context, it item) error {
	select {
	case s.sink.in <- it:
		return nil
	case <-s.sink.failed:
		return s.sink.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
