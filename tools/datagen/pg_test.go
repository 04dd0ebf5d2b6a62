package datagen

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/testkafka"
)

// newPG starts a throwaway cluster for the test and connects to it.
func newPG(t *testing.T) (url string, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	c, err := pgtemp.Start(ctx)
	if errors.Is(err, pgtemp.ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	url = c.URL("postgres")
	conn, err = pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return url, conn
}

// started runs g in the background; stop cancels it and returns Run's result.
func started(t *testing.T, g *Generator) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return 30 s after its context ended")
			return nil
		}
	}
}

func count(t *testing.T, conn *pgx.Conn, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestPostgres(t *testing.T) {
	url, conn := newPG(t)
	ctx := context.Background()
	for i := range 2 { // the schema is idempotent
		if _, err := conn.Exec(ctx, Schema); err != nil {
			t.Fatalf("schema, run %d: %v", i+1, err)
		}
	}

	// A run with heavy churn: catalogue, events, updates and deletes.
	g, err := New(Config{PGURL: url, Catalogue: 50, Rate: 2000, UpdateRate: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, g)
	testkafka.Eventually(t, 30*time.Second, "events, updates and deletes", func() bool {
		s := g.Stats()
		return s.Events >= 1000 && s.Updates >= 5 && s.Deletes >= 2
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: got %v, want nil after cancel", err)
	}
	st := g.Stats()
	t.Logf("stats: %+v", st)

	for _, tc := range []struct {
		name  string
		query string
		want  int64
	}{
		{"catalogue size", `SELECT count(*) FROM content`, 50},
		{"content created", `SELECT count(*) FROM content`, st.Content - st.Deletes},
		{"events without content", `SELECT count(*) FROM engagement_events WHERE content_id IS NULL`, 0},
		{"lengths out of range", `SELECT count(*) FROM content WHERE NOT (
  content_type = 'podcast' AND length_seconds BETWEEN 1200 AND 7200 OR
  content_type = 'video' AND length_seconds BETWEEN 120 AND 2400 OR
  content_type = 'newsletter' AND length_seconds BETWEEN 180 AND 900)`, 0},
		{"event_ts far from now", `SELECT count(*) FROM engagement_events WHERE event_ts < now() - interval '5 minutes' OR event_ts > now()`, 0},
		{"payload without position", `SELECT count(*) FROM engagement_events WHERE NOT raw_payload ? 'position_ms' OR NOT raw_payload ? 'app_version'`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(t, conn, tc.query); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
	// Durations within their content's length are checked on the reruns
	// below, which change no row: here an update may have shortened a
	// length (by up to 15%), or given a NULL one a value, after events were
	// written against the old one (CI once saw one such event).

	// Deletes take their content's events with them, so the table holds
	// at most what was written.
	if got := count(t, conn, `SELECT count(*) FROM engagement_events`); got <= 0 || got > st.Events {
		t.Errorf("got %d events in the table, want within [1, %d]", got, st.Events)
	}

	// Reruns adopt what is there: the same catalogue size creates nothing,
	// a larger one tops it up; both keep the schema.
	for _, tc := range []struct {
		name        string
		catalogue   int
		wantCreated int64
		wantRows    int64
	}{
		{"rerun same size", 50, 0, 50},
		{"rerun larger", 70, 20, 70},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(Config{PGURL: url, Catalogue: tc.catalogue, Rate: 500, UpdateRate: -1, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			before := count(t, conn, `SELECT count(*) FROM engagement_events`)
			lastID := count(t, conn, `SELECT coalesce(max(id), 0) FROM engagement_events`)
			stop := started(t, g)
			testkafka.Eventually(t, 30*time.Second, "events", func() bool { return g.Stats().Events >= 200 })
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			st := g.Stats()
			if st.Content != tc.wantCreated || st.Updates != 0 || st.Deletes != 0 {
				t.Errorf("stats %+v: want %d created and no changes", st, tc.wantCreated)
			}
			if got := count(t, conn, `SELECT count(*) FROM content`); got != tc.wantRows {
				t.Errorf("content rows: got %d, want %d", got, tc.wantRows)
			}
			if got := count(t, conn, `SELECT count(*) FROM engagement_events`) - before; got != st.Events {
				t.Errorf("new events: got %d, want %d", got, st.Events)
			}
			// No row changed during this run, so every play, pause and
			// finish fits its content's length as the row stands.
			if got := count(t, conn, `SELECT count(*) FROM engagement_events e JOIN content c ON c.id = e.content_id
WHERE e.id > $1 AND e.event_type <> 'click' AND e.duration_ms > c.length_seconds * 1000`, lastID); got != 0 {
				t.Errorf("%d new play/pause/finish events longer than their content", got)
			}
		})
	}
}
