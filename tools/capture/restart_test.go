package capture

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/internal/testkafka"
)

func slotConfirmed(t *testing.T, e *env) pglogrepl.LSN {
	t.Helper()
	var s string
	if err := e.conn.QueryRow(context.Background(),
		`SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'enricher_capture'`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

// TestRestart stops capture while rows are being inserted and starts it
// again: every row arrives, repeats happen only across the restart, and the
// slot's confirmed position moves on. The first run ends either by its
// context (a clean stop) or by Postgres killing its walsender (Run fails).
func TestRestart(t *testing.T) {
	t.Run("stop", func(t *testing.T) { testRestart(t, false) })
	t.Run("walsender killed", func(t *testing.T) { testRestart(t, true) })
}

func testRestart(t *testing.T, kill bool) {
	e := newEnv(t)
	r1 := run(t, e.config())
	c1 := r1.c
	testkafka.Eventually(t, 60*time.Second, "the (empty) snapshot", func() bool { return c1.Stats().SnapshotDone })
	first := slotConfirmed(t, e)

	var inserted atomic.Int64
	stopIns := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := pgx.Connect(context.Background(), e.pg.URL("postgres"))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		for id := int64(1); ; id++ {
			select {
			case <-stopIns:
				return
			default:
			}
			if _, err := conn.Exec(context.Background(), `INSERT INTO engagement_events (id, event_type, event_ts, duration_ms)
				VALUES ($1::int8, 'play', now(), $1::int4)`, id); err != nil {
				t.Error(err)
				return
			}
			inserted.Store(id)
		}
	}()
	testkafka.Eventually(t, 60*time.Second, "300 rows through the first run", func() bool { return c1.Stats().Acked >= 300 })
	if kill { // mid-stream: the inserter goes on
		e.exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'enricher-capture'`)
		if err := r1.wait(); err == nil {
			t.Fatal("run: got nil after its walsender was killed")
		} else {
			t.Logf("first run: %v", err)
		}
	} else if err := r1.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	acked1 := c1.Stats().Acked
	atStop := inserted.Load()
	runOne := map[int32]int64{} // partition -> records written by the first run
	for _, r := range e.kc.ReadAll(eventsTopic, int(acked1), 30*time.Second) {
		runOne[r.Partition]++
	}

	cfg := e.config()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	c2, stop2 := start(t, cfg)
	testkafka.Eventually(t, 60*time.Second, "300 rows through the second run", func() bool { return c2.Stats().Acked >= 300 })
	close(stopIns)
	wg.Wait()
	n := inserted.Load()
	if n <= atStop {
		t.Fatalf("the inserter did not run across the restart: %d rows, %d at the stop", n, atStop)
	}

	var seen map[int64][2]int // id -> count in run 1, run 2
	var maxLSN int64
	testkafka.Eventually(t, 60*time.Second, "every inserted row in Kafka", func() bool {
		total := int(acked1 + c2.Stats().Acked)
		recs := e.kc.ReadAll(eventsTopic, total, 10*time.Second)
		seen = map[int64][2]int{}
		dec := readRecs(t, recs)
		for i, r := range recs {
			run := 0
			if r.Offset >= runOne[r.Partition] {
				run = 1
			}
			c := seen[dec[i].Event.ID]
			c[run]++
			seen[dec[i].Event.ID] = c
			maxLSN = max(maxLSN, dec[i].Source.LSN)
		}
		return int64(len(seen)) >= n
	})
	dups := 0
	for id := int64(1); id <= n; id++ {
		c, ok := seen[id]
		switch {
		case !ok:
			t.Errorf("row %d is missing", id)
		case c[0] > 1 || c[1] > 1:
			t.Errorf("row %d written %d times by one run", id, max(c[0], c[1]))
		case c[0] == 1 && c[1] == 1:
			dups++
		}
	}
	t.Logf("%d rows inserted, %d at the stop; %d repeated across the restart; first run acked %d records", n, atStop, dups, acked1)
	if s := c2.Stats(); s.SnapshotRows != 0 || !s.SnapshotDone {
		t.Errorf("second run: got %+v, want it to resume the slot without a snapshot", s)
	}
	testkafka.Eventually(t, 30*time.Second, "the slot to confirm the last row", func() bool {
		return slotConfirmed(t, e) > pglogrepl.LSN(maxLSN)
	})
	if last := slotConfirmed(t, e); last <= first {
		t.Errorf("confirmed_flush_lsn: %s, not past %s", last, first)
	}
	stop2()
	var m dto.Metric
	if err := c2.m.rows.WithLabelValues("engagement_events", "c").Write(&m); err != nil || m.GetCounter().GetValue() != float64(c2.Stats().StreamRows) {
		t.Errorf("rows metric: got %v (%v), want %d", m.GetCounter().GetValue(), err, c2.Stats().StreamRows)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, name := range []string{"enricher_capture_rows_total", "enricher_capture_kafka_write_seconds", "enricher_capture_confirmed_lag_bytes", "enricher_capture_commit_to_ack_seconds"} {
		if !names[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
}

// TestSnapshotRetaken: a slot whose snapshot never reached Kafka (the
// publication still carries the in-progress marker) is made again.
func TestSnapshotRetaken(t *testing.T) {
	e := newEnv(t)
	e.exec(t, `INSERT INTO content VALUES ('10000000-0000-4000-8000-000000000001','one','One','podcast',100,now()),
		('20000000-0000-4000-8000-000000000002','two','Two','video',200,now())`)
	e.exec(t, `CREATE PUBLICATION enricher_capture FOR TABLE content, engagement_events`)
	e.exec(t, `SELECT pg_create_logical_replication_slot('enricher_capture', 'pgoutput')`)
	e.exec(t, `COMMENT ON PUBLICATION enricher_capture IS '`+snapshotMarker("enricher_capture")+`'`)
	c, _ := start(t, e.config())
	testkafka.Eventually(t, 60*time.Second, "the snapshot", func() bool {
		s := c.Stats()
		return s.SnapshotDone && s.SnapshotRows == 2 && s.Acked == 2
	})
	var comment *string
	if err := e.conn.QueryRow(context.Background(), `SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = 'enricher_capture'`).Scan(&comment); err != nil || comment != nil {
		t.Fatalf("marker: got %v, %v; want it cleared", comment, err)
	}
}

func readRecs(t *testing.T, recs []*kgo.Record) []debezium.EngagementEvent {
	t.Helper()
	dec := debezium.NewDecoder(nil)
	out := make([]debezium.EngagementEvent, len(recs))
	for i, r := range recs {
		ev, err := dec.Engagement(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatalf("decode %s: %v", r.Value, err)
		}
		out[i] = ev
	}
	return out
}

// TestIdleConfirm: with nothing captured to write, the slot still advances
// (over WAL of tables it does not capture), so it does not hold WAL back.
func TestIdleConfirm(t *testing.T) {
	e := newEnv(t)
	r := run(t, e.config(), func(c *Capture) { c.heartbeat = 100 * time.Millisecond })
	testkafka.Eventually(t, 60*time.Second, "the snapshot", func() bool { return r.c.Stats().SnapshotDone })
	e.exec(t, `CREATE TABLE other (id int PRIMARY KEY); INSERT INTO other SELECT generate_series(1, 1000)`)
	var end string
	if err := e.conn.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&end); err != nil {
		t.Fatal(err)
	}
	want, _ := pglogrepl.ParseLSN(end)
	testkafka.Eventually(t, 30*time.Second, "the slot to pass "+end, func() bool { return slotConfirmed(t, e) >= want })
	if s := r.c.Stats(); s.Acked != 0 || s.ConfirmedLSN < want {
		t.Errorf("stats: got %+v", s)
	}
}
