package datagen

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// pgSink writes to Postgres over one connection: events as one COPY per
// tick, content changes as one batch in one transaction.
type pgSink struct {
	conn *pgx.Conn
	// argument buffers reused across ticks
	contentIDs, userIDs []uuid.UUID
	types, devices      []string
	ts                  []time.Time
	durations           []pgtype.Int4
	payloads            [][]byte
}

var eventColumns = []string{"content_id", "user_id", "event_type", "event_ts", "duration_ms", "device", "raw_payload"}

func openPG(ctx context.Context, url string) (*pgSink, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("datagen: postgres url: %w", err)
	}
	if _, set := cfg.RuntimeParams["application_name"]; !set {
		cfg.RuntimeParams["application_name"] = "enricher-datagen"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("datagen: connect to postgres: %w", err)
	}
	if _, err := conn.Exec(ctx, Schema); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("datagen: create schema: %w", err)
	}
	return &pgSink{conn: conn}, nil
}

func (p *pgSink) close() { _ = p.conn.Close(context.Background()) }

func (p *pgSink) load(ctx context.Context) ([]row, error) {
	rows, _ := p.conn.Query(ctx, `SELECT id, slug, title, content_type, length_seconds, publish_ts FROM content`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c row, err error) {
		err = r.Scan(&c.ID, &c.Slug, &c.Title, &c.Type, &c.Length, &c.PublishTS)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("datagen: read content: %w", err)
	}
	return out, nil
}

// writeContent applies the changes in one transaction. Deleting content
// deletes its engagement events first: the contract's foreign key has no
// ON DELETE action, and a takedown takes its history with it.
func (p *pgSink) writeContent(ctx context.Context, cs []change, _ time.Time) error {
	b := &pgx.Batch{}
	for _, c := range cs {
		r := c.Row
		switch c.Op {
		case opCreate:
			b.Queue(`INSERT INTO content (id, slug, title, content_type, length_seconds, publish_ts)
VALUES ($1, $2, $3, $4, $5, $6)`, r.ID, r.Slug, r.Title, r.Type, r.Length, r.PublishTS)
		case opUpdate:
			b.Queue(`UPDATE content SET title = $2, length_seconds = $3 WHERE id = $1`, r.ID, r.Title, r.Length)
		case opDelete:
			b.Queue(`DELETE FROM engagement_events WHERE content_id = $1`, r.ID)
			b.Queue(`DELETE FROM content WHERE id = $1`, r.ID)
		}
	}
	return pgx.BeginFunc(ctx, p.conn, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
}

func (p *pgSink) writeEvents(ctx context.Context, evs []event, now time.Time) error {
	p.contentIDs, p.userIDs = p.contentIDs[:0], p.userIDs[:0]
	p.types, p.devices = p.types[:0], p.devices[:0]
	p.ts, p.durations, p.payloads = p.ts[:0], p.durations[:0], p.payloads[:0]
	for _, e := range evs {
		p.contentIDs = append(p.contentIDs, e.ContentID)
		p.userIDs = append(p.userIDs, e.UserID)
		p.types = append(p.types, e.Type)
		p.ts = append(p.ts, now.Add(-e.Lag))
		p.durations = append(p.durations, pgtype.Int4{Int32: e.Duration.Int32, Valid: e.Duration.Valid})
		p.devices = append(p.devices, e.Device)
		p.payloads = append(p.payloads, e.Payload)
	}
	_, err := p.conn.CopyFrom(ctx, pgx.Identifier{"engagement_events"}, eventColumns, pgx.CopyFromSlice(len(evs), func(i int) ([]any, error) {
		return []any{p.contentIDs[i], p.userIDs[i], p.types[i], p.ts[i], p.durations[i], p.devices[i], p.payloads[i]}, nil
	}))
	return err
}
