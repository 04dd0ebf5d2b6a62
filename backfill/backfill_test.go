package backfill

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/internal/testkafka"
)

// TestResumeAfterCancel kills the loader (cancels its context) once the
// checkpoint passed id 50,000, resumes it, and checks every id in range
// arrived, none outside it, and duplicates only past the boundary.
func TestResumeAfterCancel(t *testing.T) {
	pgURL, _ := seededDB(t)
	kc := newKafka(t)
	cfg := testConfig(t, pgURL, kc)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := cfg
	first.OnCheckpoint = func(cp Checkpoint) {
		if cp.LastID != nil && *cp.LastID >= 50_000 {
			cancel()
		}
	}
	res, err := Run(ctx, first)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: got %v, want it cancelled", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("first run: error %q is not one line telling to resume", err)
	}
	cp, err := LoadCheckpoint(cfg.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Done || cp.LastID == nil || *cp.LastID < 50_000 || cp.Sent != res.Sent {
		t.Fatalf("checkpoint after the kill: %s; the run acknowledged %d", cp, res.Sent)
	}
	boundary := *cp.LastID
	t.Logf("killed with the checkpoint at id %d after %d events", boundary, res.Sent)

	second := cfg
	second.Resume = true
	res2, err := Run(context.Background(), second)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	want, _, _ := wantCount()
	if !res2.Plan.Resumed || res2.Plan.After != boundary || res.Sent+res2.Sent != want {
		t.Fatalf("resumed run: plan %+v, sent %d+%d, want %d after id %d", res2.Plan, res.Sent, res2.Sent, want, boundary)
	}
	if !res2.Checkpoint.Done {
		t.Fatalf("checkpoint not done: %s", res2.Checkpoint)
	}
	checkDelivery(t, delivered(t, kc), boundary, cfg.Batch)

	// Resuming a finished checkpoint sends nothing more.
	res3, err := Run(context.Background(), second)
	if err != nil || res3.Sent != 0 || !res3.Plan.Done {
		t.Fatalf("resuming a done checkpoint: sent %d, %v", res3.Sent, err)
	}
}

// TestResumeAfterFailedWrite injects a failure in the 8th write, after half
// its records reached Kafka: the resumed run sends them again, and those
// are the only duplicates.
func TestResumeAfterFailedWrite(t *testing.T) {
	pgURL, _ := seededDB(t)
	kc := newKafka(t)
	cfg := testConfig(t, pgURL, kc)
	w := &kafka.Writer{Addr: kafka.TCP(kc.Addrs()...), Topic: testTopic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchSize: cfg.Batch, BatchTimeout: time.Millisecond}
	defer w.Close()
	f := &flaky{w: w, failAt: 8}
	first := cfg
	first.Producer = f
	_, err := Run(context.Background(), first)
	if err == nil || !strings.Contains(err.Error(), "injected failure") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("first run: got %v, want the injected failure on one line", err)
	}
	cp, err := LoadCheckpoint(cfg.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if cp.LastID == nil || cp.Sent != 7*int64(cfg.Batch) {
		t.Fatalf("checkpoint after the failure: %s, want 7 batches", cp)
	}
	t.Logf("failed in write 8 with the checkpoint at id %d; %d records of that write reached Kafka", *cp.LastID, len(f.failed))

	second := cfg
	second.Resume = true
	if _, err := Run(context.Background(), second); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	dups := checkDelivery(t, delivered(t, kc), *cp.LastID, len(f.failed))
	if dups != len(f.failed) {
		t.Fatalf("%d duplicates, want the %d records of the failed write", dups, len(f.failed))
	}
}

// TestPostgresGoesAway terminates the loader's Postgres session mid-run:
// one-line error, a checkpoint that only covers what Kafka holds, and a
// resume that completes the range.
func TestPostgresGoesAway(t *testing.T) {
	pgURL, _ := seededDB(t)
	kc := newKafka(t)
	cfg := testConfig(t, pgURL, kc)
	admin, err := pgx.Connect(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	first := cfg
	writes := 0
	first.OnCheckpoint = func(Checkpoint) {
		if writes++; writes == 3 {
			var n int
			err := admin.QueryRow(context.Background(),
				`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, applicationName).Scan(&n)
			if err != nil || n != 1 {
				t.Errorf("terminate the loader's session: %d sessions, %v", n, err)
			}
		}
	}
	_, err = Run(context.Background(), first)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "read events after id") {
		t.Fatalf("got %v, want a one-line read error", err)
	}
	t.Logf("error: %v", err)
	cp, err := LoadCheckpoint(cfg.Checkpoint)
	if err != nil || cp.LastID == nil || cp.Done {
		t.Fatalf("checkpoint: %s, %v", cp, err)
	}
	// Everything up to the checkpoint is in Kafka, nothing after it.
	got := delivered(t, kc)
	for id := int64(1); id <= seedRows; id++ {
		if want := inRange(id) && id <= *cp.LastID; (got[id] == 1) != want {
			t.Fatalf("id %d: delivered %d times with the checkpoint at %d", id, got[id], *cp.LastID)
		}
	}
	second := cfg
	second.Resume = true
	if _, err := Run(context.Background(), second); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	checkDelivery(t, delivered(t, kc), *cp.LastID, 0)
}

func TestDryRun(t *testing.T) {
	pgURL, _ := seededDB(t)
	cfg := Config{PGURL: pgURL, From: rangeFrom(), To: rangeTo(), Topic: DefaultTopic, Checkpoint: t.TempDir() + "/cp"} // no brokers
	p, err := DryRun(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, lo, hi := wantCount()
	if p.Count != n || p.MinID != lo || p.MaxID != hi || p.Estimated || p.Resumed || p.Topic != DefaultTopic {
		t.Fatalf("got %+v, want %d events, ids %d..%d", p, n, lo, hi)
	}
	if _, err := os.Stat(cfg.Checkpoint); !os.IsNotExist(err) {
		t.Fatalf("a dry run wrote a checkpoint: %v", err)
	}
	// Resuming a checkpoint counts what is left.
	last := int64(60_000)
	cp := newCheckpoint(&cfg)
	cp.LastID = &last
	if err := cp.Save(cfg.Checkpoint); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	p, err = DryRun(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var left int64
	for id := last + 1; id <= seedRows; id++ {
		if inRange(id) {
			left++
		}
	}
	if p.Count != left || p.After != last || !p.Resumed || p.MinID <= last {
		t.Fatalf("resumed dry run: got %+v, want %d events after %d", p, left, last)
	}
}

// TestCountEstimate: with a negative CountTimeout, or when the exact count
// takes longer than it (here: it waits for a lock), the total is the
// planner's estimate, and the run still sends everything.
func TestCountEstimate(t *testing.T) {
	for _, timeout := range []time.Duration{-1, 200 * time.Millisecond} {
		t.Run(timeout.String(), func(t *testing.T) {
			pgURL, _ := seededDB(t)
			kc := newKafka(t)
			cfg := testConfig(t, pgURL, kc)
			cfg.CountTimeout = timeout
			ctx := context.Background()
			var locker pgx.Tx
			pg, err := pgx.Connect(ctx, pgURL)
			if err != nil {
				t.Fatal(err)
			}
			defer pg.Close(ctx)
			if timeout > 0 {
				admin, err := pgx.Connect(ctx, pgURL)
				if err != nil {
					t.Fatal(err)
				}
				defer admin.Close(ctx)
				if locker, err = admin.Begin(ctx); err != nil {
					t.Fatal(err)
				}
				defer locker.Rollback(ctx)
				if _, err := locker.Exec(ctx, "LOCK TABLE "+Table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
					t.Fatal(err)
				}
			}
			type result struct {
				res Result
				err error
			}
			done := make(chan result, 1)
			go func() { res, err := Run(ctx, cfg); done <- result{res, err} }()
			if locker != nil {
				// The count timed out once the loader waits for the lock with the EXPLAIN.
				testkafka.Eventually(t, 30*time.Second, "the loader to fall back to EXPLAIN", func() bool {
					var n int
					// Not in locker's transaction: pg_stat_activity is a snapshot there.
					_ = pg.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'EXPLAIN%'`,
						applicationName).Scan(&n)
					return n == 1
				})
				if err := locker.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			n, _, _ := wantCount()
			if !r.res.Plan.Estimated || r.res.Plan.Count < n/2 || r.res.Plan.Count > n*3/2 || r.res.Sent != n {
				t.Fatalf("plan %+v, sent %d, want an estimate and %d sent", r.res.Plan, r.res.Sent, n)
			}
			t.Logf("estimated %d for %d", r.res.Plan.Count, n)
			checkDelivery(t, delivered(t, kc), 0, 0)
		})
	}
}

func TestRefusals(t *testing.T) {
	pgURL, pg := seededDB(t)
	kc := newKafka(t)
	cfg := testConfig(t, pgURL, kc)
	cfg.To = cfg.From.Add(time.Minute) // a few events
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(cfg.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.To = other.To.Add(time.Second)
	other.Resume = true
	noResume := cfg
	missing := cfg
	missing.PGURL = pg.URL("postgres")
	missing.Checkpoint = t.TempDir() + "/cp"
	backwards := cfg
	backwards.From, backwards.To = cfg.To, cfg.From
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		"another range":         {other, "is for --from 2024-06-01T02:46:40Z --to 2024-06-01T02:47:40Z --topic engagement_events.backfill, not"},
		"checkpoint, no resume": {noResume, "exists ([2024-06-01T02:46:40Z, 2024-06-01T02:47:40Z) to engagement_events.backfill, last id"},
		"missing table":         {missing, `table engagement_events does not exist in database "postgres"`},
		"from after to":         {backwards, "from 2024-06-01T02:47:40Z is not before to 2024-06-01T02:46:40Z"},
	} {
		_, err := Run(context.Background(), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "backfill: ") {
			t.Errorf("%s: got %v, want one line containing %q", name, err, c.want)
		}
	}
	if now, _ := os.ReadFile(cfg.Checkpoint); string(now) != string(saved) {
		t.Errorf("a refused run changed the checkpoint:\n%s\nwas\n%s", now, saved)
	}
	if _, err := os.Stat(missing.Checkpoint); !os.IsNotExist(err) {
		t.Errorf("a run on a missing table wrote a checkpoint: %v", err)
	}
}

// TestRecordsDecode checks every record a run writes is accepted by the
// service's decoder as the row it came from.
func TestRecordsDecode(t *testing.T) {
	pgURL, _ := seededDB(t)
	kc := newKafka(t)
	cfg := testConfig(t, pgURL, kc)
	cfg.To = cfg.From.Add(2 * time.Hour) // 7,200 events
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	dec := debezium.NewDecoder(nil)
	recs := kc.ReadAll(testTopic, int(res.Sent), 30*time.Second)
	if len(recs) != 7200 || res.Sent != 7200 {
		t.Fatalf("read %d records, sent %d, want 7200", len(recs), res.Sent)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		ev, err := dec.Engagement(context.Background(), r.Key, r.Value)
		if err != nil {
			t.Fatalf("record %s: %v\n%s", r.Key, err, r.Value)
		}
		e := ev.Event
		i := e.ID
		wantTs := base.Add(time.Duration(offsetOf(i))*time.Second + time.Duration(i%1000)*time.Microsecond)
		switch {
		case string(r.Key) != itoa(i):
			t.Fatalf("key %s, id %d", r.Key, i)
		case ev.Kind != debezium.KindChange:
			t.Fatalf("record %s: kind %v", r.Key, ev.Kind)
		case !e.EventTs.Equal(wantTs):
			t.Fatalf("record %s: event_ts %v, want %v", r.Key, e.EventTs, wantTs)
		case e.ContentID.Valid == (i%50 == 0), e.DurationMs.Valid == (i%7 == 0), e.Device.Valid == (i%3 == 0),
			(e.RawPayload == nil) != (i%5 == 0), !e.UserID.Valid, !e.EventType.Valid:
			t.Fatalf("record %s: NULLs wrong: %+v\n%s", r.Key, e, r.Value)
		case i%3 == 2 && e.Device.String != `web "beta"\`:
			t.Fatalf("record %s: device %q", r.Key, e.Device.String)
		case i%7 != 0 && i%11 == 0 && e.DurationMs.Int32 != -5:
			t.Fatalf("record %s: duration %d", r.Key, e.DurationMs.Int32)
		}
		seen[itoa(i)] = true
	}
	if len(seen) != 7200 {
		t.Fatalf("%d distinct events, want 7200", len(seen))
	}
}
