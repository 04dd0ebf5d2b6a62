package capture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/kafkax"
)

// table is a captured table as the catalog describes it.
type table struct {
	schema, name, topic     string
	ident                   string // quoted schema.table
	schemaField, tableField []byte // `,"schema":"public"`, `,"table":"content"`
	cols                    []column
	pk                      []int // indexes into cols, in primary-key order
}

func newTable(schema, name, prefix string) *table {
	return &table{
		schema: schema, name: name, topic: prefix + "." + schema + "." + name,
		ident:       pgx.Identifier{schema, name}.Sanitize(),
		schemaField: appendString([]byte(`,"schema":`), schema),
		tableField:  appendString([]byte(`,"table":`), name),
	}
}

// load reads the table's columns, types, nullability and primary key.
func (t *table) load(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `
		SELECT a.attname, a.atttypid::int8, a.attnotnull, array_position(i.indkey::int2[], a.attnum)
		FROM pg_attribute a
		LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, t.ident)
	if err != nil {
		return fmt.Errorf("table %s: %w", t.ident, err)
	}
	var cols []column
	pkPos := map[int]int{} // key position -> column index
	for rows.Next() {
		var (
			name    string
			oid     int64
			notNull bool
			pos     *int32
		)
		if err := rows.Scan(&name, &oid, &notNull, &pos); err != nil {
			return fmt.Errorf("table %s: %w", t.ident, err)
		}
		if pos != nil {
			pkPos[int(*pos)] = len(cols)
		}
		cols = append(cols, newColumn(name, uint32(oid), notNull))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("table %s: %w", t.ident, err)
	}
	pk := make([]int, 0, len(pkPos))
	for p := 1; p <= len(pkPos); p++ {
		pk = append(pk, pkPos[p])
	}
	t.cols, t.pk = cols, pk
	return nil
}

func (t *table) column(name string) (column, bool) {
	for _, c := range t.cols {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}

// prepare checks the database, loads the tables and makes the publication
// cover them. It returns the database name.
func (c *Capture) prepare(ctx context.Context, conn *pgx.Conn) (string, error) {
	var db, enc, level string
	if err := conn.QueryRow(ctx, `SELECT current_database(), current_setting('server_encoding'), current_setting('wal_level')`).
		Scan(&db, &enc, &level); err != nil {
		return "", err
	}
	if level != "logical" {
		return "", fmt.Errorf("wal_level is %s: logical replication needs wal_level=logical", level)
	}
	if enc != "UTF8" {
		return "", fmt.Errorf("server encoding is %s: only UTF8 databases are supported", enc)
	}
	for _, t := range c.tables {
		if err := t.load(ctx, conn); err != nil {
			return "", err
		}
	}
	var exists, all bool
	if err := conn.QueryRow(ctx, `SELECT count(*) > 0, coalesce(bool_or(puballtables), false) FROM pg_publication WHERE pubname = $1`,
		c.cfg.Publication).Scan(&exists, &all); err != nil {
		return "", fmt.Errorf("publication: %w", err)
	}
	pub := pgx.Identifier{c.cfg.Publication}.Sanitize()
	if !exists {
		idents := make([]string, len(c.tables))
		for i, t := range c.tables {
			idents[i] = t.ident
		}
		if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+strings.Join(idents, ", ")); err != nil {
			return "", fmt.Errorf("create publication %s: %w", c.cfg.Publication, err)
		}
		c.log.Info("publication created", zap.String("publication", c.cfg.Publication), zap.Strings("tables", idents))
		return db, nil
	}
	for _, t := range c.tables {
		var in bool
		if err := conn.QueryRow(ctx, `SELECT $4 OR EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)`,
			c.cfg.Publication, t.schema, t.name, all).Scan(&in); err != nil {
			return "", fmt.Errorf("publication: %w", err)
		}
		if !in {
			if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+pub+" ADD TABLE "+t.ident); err != nil {
				return "", fmt.Errorf("add %s to publication %s: %w", t.ident, c.cfg.Publication, err)
			}
			c.log.Info("table added to publication", zap.String("table", t.ident))
		}
	}
	return db, nil
}

// snapshotMarker is the publication comment naming a slot whose initial
// snapshot has not been written to Kafka yet: such a slot is dropped and made
// again at start, because resuming it would skip the rows never written.
func snapshotMarker(slot string) string {
	return "enricher-capture: snapshot of slot " + slot + " in progress"
}

// snapshotPoint is a new slot's exported snapshot and consistent point.
type snapshotPoint struct {
	name string
	lsn  pglogrepl.LSN
}

// slot returns where streaming starts, and the snapshot to read first when
// the slot is new.
func (c *Capture) slot(ctx context.Context, st *streamer) (pglogrepl.LSN, *snapshotPoint, error) {
	conn := st.conn
	var (
		confirmed      *string
		plugin, marker string
		db             *string
	)
	err := conn.QueryRow(ctx, `SELECT s.confirmed_flush_lsn::text, s.plugin, s.database, coalesce(obj_description(p.oid, 'pg_publication'), '')
		FROM pg_replication_slots s LEFT JOIN pg_publication p ON p.pubname = $2
		WHERE s.slot_name = $1`, c.cfg.Slot, c.cfg.Publication).Scan(&confirmed, &plugin, &db, &marker)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return 0, nil, fmt.Errorf("slot %s: %w", c.cfg.Slot, err)
	case plugin != "pgoutput" || confirmed == nil:
		return 0, nil, fmt.Errorf("slot %s exists but is not a logical pgoutput slot (plugin %q)", c.cfg.Slot, plugin)
	case db == nil || *db != st.db:
		return 0, nil, fmt.Errorf("slot %s belongs to another database than %s", c.cfg.Slot, st.db)
	case marker == snapshotMarker(c.cfg.Slot):
		c.log.Warn("slot's initial snapshot never finished: dropping the slot to take it again", zap.String("slot", c.cfg.Slot))
		if err := pglogrepl.DropReplicationSlot(ctx, st.repl, c.cfg.Slot, pglogrepl.DropReplicationSlotOptions{Wait: true}); err != nil {
			return 0, nil, fmt.Errorf("drop slot %s: %w", c.cfg.Slot, err)
		}
	default:
		lsn, err := pglogrepl.ParseLSN(*confirmed)
		if err != nil {
			return 0, nil, fmt.Errorf("slot %s: %w", c.cfg.Slot, err)
		}
		c.log.Info("resuming existing slot", zap.String("slot", c.cfg.Slot), zap.Stringer("confirmed_lsn", lsn))
		return lsn, nil, nil
	}
	if err := c.setMarker(ctx, conn, snapshotMarker(c.cfg.Slot)); err != nil {
		return 0, nil, err
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, st.repl, c.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return 0, nil, fmt.Errorf("create slot %s: %w", c.cfg.Slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, nil, fmt.Errorf("slot %s consistent point: %w", c.cfg.Slot, err)
	}
	c.log.Info("slot created", zap.String("slot", c.cfg.Slot), zap.Stringer("consistent_lsn", lsn))
	return lsn, &snapshotPoint{name: res.SnapshotName, lsn: lsn}, nil
}

func (c *Capture) setMarker(ctx context.Context, conn *pgx.Conn, text string) error {
	sql := "COMMENT ON PUBLICATION " + pgx.Identifier{c.cfg.Publication}.Sanitize() + " IS NULL"
	if text != "" {
		sql = "COMMENT ON PUBLICATION " + pgx.Identifier{c.cfg.Publication}.Sanitize() + " IS '" + text + "'"
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("mark publication %s: %w", c.cfg.Publication, err)
	}
	return nil
}

// snapshot reads every table in the slot's exported snapshot, so that the
// rows plus the changes streamed from the consistent point are the tables'
// whole history, and writes them as op r records. The replication
// connection stays idle meanwhile, which keeps the exported snapshot valid.
func (c *Capture) snapshot(ctx context.Context, st *streamer, sp *snapshotPoint) error {
	conn := st.conn
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // after Commit: a no-op
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+sp.name+"'"); err != nil {
		return fmt.Errorf("set transaction snapshot: %w", err)
	}
	src := source{lsn: sp.lsn}
	if err := tx.QueryRow(ctx, `SELECT txid_snapshot_xmin(txid_current_snapshot()), now()`).Scan(&src.txID, &src.ts); err != nil {
		return err
	}
	em := snapEmitter{st: st, src: src}
	for ti, t := range c.tables {
		rel := &relation{t: t, cols: t.cols, pk: t.pk}
		cols := make([]string, len(t.cols))
		for i, col := range t.cols {
			cols[i] = pgx.Identifier{col.name}.Sanitize()
		}
		sql := "SELECT " + strings.Join(cols, ", ") + " FROM " + t.ident
		if len(t.pk) > 0 {
			order := make([]string, len(t.pk))
			for i, p := range t.pk {
				order[i] = cols[p]
			}
			sql += " ORDER BY " + strings.Join(order, ", ")
		}
		// The simple protocol returns text, the form logical decoding sends.
		rr := conn.PgConn().Exec(ctx, sql)
		for rr.NextResult() {
			res := rr.ResultReader()
			for res.NextRow() {
				if err := em.row(ctx, ti, rel, res.Values()); err != nil {
					_, _ = res.Close()
					_ = rr.Close()
					return err
				}
			}
			if _, err := res.Close(); err != nil {
				_ = rr.Close()
				return fmt.Errorf("read %s: %w", t.ident, err)
			}
		}
		if err := rr.Close(); err != nil {
			return fmt.Errorf("read %s: %w", t.ident, err)
		}
	}
	if err := em.finish(ctx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	// Only once Kafka holds every snapshot row may a restart resume the slot.
	if err := st.barrier(ctx); err != nil {
		return err
	}
	if err := c.setMarker(ctx, conn, ""); err != nil {
		return err
	}
	c.log.Info("snapshot written", zap.Int64("rows", c.snapshotRows.Load()), zap.Stringer("lsn", sp.lsn))
	return nil
}

// snapEmitter holds back one row so that it knows, when writing it, whether
// it is the last of its table or of the whole snapshot (Debezium's markers).
type snapEmitter struct {
	st      *streamer
	src     source
	held    []cell
	heldRel *relation
	heldIdx int
	first   bool // the held row is the first of its table
	started bool // a row was written before the held one
}

func (e *snapEmitter) row(ctx context.Context, ti int, rel *relation, vals [][]byte) error {
	if e.heldRel != nil {
		if err := e.emit(ctx, e.heldIdx != ti, false); err != nil {
			return err
		}
	}
	first := e.heldRel == nil || e.heldIdx != ti
	e.held = e.held[:0]
	for _, v := range vals {
		if v == nil {
			e.held = append(e.held, cell{kind: 'n'})
		} else {
			e.held = append(e.held, cell{kind: 't', data: append([]byte(nil), v...)})
		}
	}
	e.heldRel, e.heldIdx, e.first = rel, ti, first
	return nil
}

func (e *snapEmitter) emit(ctx context.Context, lastInTable, last bool) error {
	marker := "true"
	switch {
	case !e.started:
		marker = "first"
	case last:
		marker = "last"
	case e.first:
		marker = "first_in_data_collection"
	case lastInTable:
		marker = "last_in_data_collection"
	}
	e.started = true
	e.src.snapshot = marker
	e.st.c.snapshotRows.Add(1)
	e.st.c.m.rows.WithLabelValues(e.heldRel.t.name, "r").Inc()
	return e.st.add(ctx, e.heldRel, 'r', &e.src, nil, e.held, false, nil)
}

func (e *snapEmitter) finish(ctx context.Context) error {
	if e.heldRel != nil {
		if err := e.emit(ctx, true, true); err != nil {
			return err
		}
	}
	return e.st.flush(ctx, 0, e.src.ts)
}

// ensureTopics creates missing topics; the content table's is compacted.
// Unlike kafkax.EnsureTopics, a topic the broker refuses is an error: a
// content topic auto-created without compaction would lose the view's rows
// to retention.
func (c *Capture) ensureTopics(ctx context.Context) error {
	topics := make([]kafka.TopicConfig, 0, len(c.tables))
	for _, t := range c.tables {
		policy := ""
		if t.name == "content" {
			policy = "compact"
		}
		topics = append(topics, kafkax.Topic(t.topic, c.cfg.Partitions, policy))
	}
	cl := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...)}
	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for name, err := range res.Errors {
		switch {
		case err == nil:
			c.log.Info("topic created", zap.String("topic", name))
		case errors.Is(err, kafka.TopicAlreadyExists):
		default:
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	return nil
}
