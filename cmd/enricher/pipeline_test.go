package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thmanyah/enricher/internal/testkafka"
)

// TestPipelineFromPostgres proves the chain from real Postgres commits to
// enriched records: temporary Postgres -> capture -> kfake -> run.
func TestPipelineFromPostgres(t *testing.T) {
	ctx := context.Background()
	p := startPipeline(t, func(c *RunConfig) { c.JoinWait = 20 * time.Second })
	pg, kc, tm := p.pg, p.kc, p.tm

	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	dec := newOutputDecoder(t, nil)
	outputs := map[string]enriched{}
	waitOutputs := func(n int) {
		t.Helper()
		for _, r := range kc.ReadAll(outputTopic, n, 60*time.Second) {
			outputs[string(r.Key)] = dec.decode(r)
		}
		if len(outputs) != n {
			t.Fatalf("got %d enriched records, want %d", len(outputs), n)
		}
	}
	expect := func(key, want string) {
		t.Helper()
		if got := outputs[key].String(); got != "key="+key+" "+want {
			t.Fatalf("event %s:\n got %s\nwant key=%s %s", key, got, key, want)
		}
	}
	viewLength := func(id string) (int, *int32) {
		var row viewRow
		code := tm.getJSON("/debug/content/"+id, &row)
		return code, row.LengthSeconds
	}

	const a, b = "0a000000-0000-4000-8000-00000000000a", "0b000000-0000-4000-8000-00000000000b"
	// Step 1: content, then events.
	exec(`INSERT INTO content VALUES ($1,'a','فنجان','podcast',1200,now()), ($2,'b','Long read','newsletter',600,now())`, a, b)
	exec(`INSERT INTO engagement_events (id, content_id, user_id, event_type, event_ts, duration_ms, device, raw_payload)
	      VALUES (1,$1,gen_random_uuid(),'play',now(),6000,'ios','{"k":1}'), (2,$2,gen_random_uuid(),'finish',now(),300000,'web',NULL)`, a, b)
	waitOutputs(2)
	expect("1", "type=podcast len=1200 secs=6 pct=0.01")
	expect("2", "type=newsletter len=600 secs=300 pct=0.5")
	if code, l := viewLength(a); code != http.StatusOK || l == nil || *l != 1200 {
		t.Fatalf("/debug/content/%s: got %d %v, want 200 with length 1200", a, code, l)
	}

	// Step 2: A's length changes; an event after it gets the new length, an
	// event dated before it the old one.
	exec(`UPDATE content SET length_seconds = 600 WHERE id = $1`, a)
	exec(`INSERT INTO engagement_events (id, content_id, user_id, event_type, event_ts, duration_ms, device)
	      VALUES (3,$1,gen_random_uuid(),'play',now(),60000,'tv'), (4,$1,gen_random_uuid(),'play',now() - interval '1 hour',60000,'tv')`, a)
	waitOutputs(4)
	expect("3", "type=podcast len=600 secs=60 pct=0.1")
	expect("4", "type=podcast len=1200 secs=60 pct=0.05")
	testkafka.Eventually(t, 30*time.Second, "the view to show the new length", func() bool {
		_, l := viewLength(a)
		return l != nil && *l == 600
	})

	// Step 3: B is deleted (its events first: the foreign key); deletes of
	// events produce no enriched record.
	exec(`DELETE FROM engagement_events WHERE content_id = $1`, b)
	exec(`DELETE FROM content WHERE id = $1`, b)
	testkafka.Eventually(t, 30*time.Second, "B to leave the view", func() bool { code, _ := viewLength(b); return code == http.StatusNotFound })
	testkafka.Eventually(t, 30*time.Second, "the event delete to be skipped", func() bool {
		return counter(t, tm.Registry, "enricher_events_total", map[string]string{"result": "skipped"}) >= 1
	})

	// Step 4: truncate empties the view; the pipeline goes on afterwards.
	exec(`TRUNCATE content, engagement_events`)
	testkafka.Eventually(t, 30*time.Second, "the truncate to empty the view", func() bool {
		var s struct {
			Rows int `json:"content_rows"`
		}
		tm.getJSON("/debug/stats", &s)
		return s.Rows == 0
	})
	const c = "0c000000-0000-4000-8000-00000000000c"
	exec(`INSERT INTO content VALUES ($1,'c','Video essay','video',0,now())`, c)
	exec(`INSERT INTO engagement_events (id, content_id, user_id, event_type, event_ts, duration_ms, device)
	      VALUES (5,$1,gen_random_uuid(),'click',now(),NULL,'android')`, c)
	waitOutputs(5)
	expect("5", "type=video len=0 secs=NULL pct=NULL")
	if n := len(outputs); n != 5 {
		t.Fatalf("got %d enriched records, want 5: deletes and truncates must produce none", n)
	}
}
