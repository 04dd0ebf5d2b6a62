package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/backfill"
	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testproc"
	"github.com/thmanyah/enricher/tools/datagen"
)

func startPG(t *testing.T) *pgtemp.Cluster {
	t.Helper()
	pg, err := pgtemp.Start(context.Background())
	if errors.Is(err, pgtemp.ErrNoServer) {
		t.Skip("no PostgreSQL server binaries; .ci/run installs them")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	return pg
}

// runBackfill runs `enricher backfill args...` and returns its stdout.
func runBackfill(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"backfill", "--log-level", "warn"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestBackfillEnrichedAsOfEventTime backfills events from Postgres whose
// content changed length at a known commit time t1 (the view's history
// comes from Debezium records), runs the service, and checks events before
// t1 were enriched with the old length and events from t1 on with the new.
func TestBackfillEnrichedAsOfEventTime(t *testing.T) {
	ctx := context.Background()
	pg := startPG(t)
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 3, map[string]string{"cleanup.policy": "compact"})
	kc.Topic(eventsTopic, 3, nil)
	kc.Topic(backfillTopic, 2, nil)
	kc.Topic(outputTopic, 3, nil)
	kc.Topic("enricher.dlq", 1, nil)

	t0 := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour) // the commit that changed a's length from 1200 s to 600 s
	a, b := uuid.New(), uuid.New()
	w, err := dbztest.New()
	if err != nil {
		t.Fatal(err)
	}
	podcast, video := "podcast", "video"
	row := func(id uuid.UUID, typ *string, length int32) *dbztest.Content {
		return &dbztest.Content{ID: id, Slug: id.String()[:8], Title: "t", ContentType: typ, LengthSeconds: &length, PublishTS: t0.Add(-24 * time.Hour)}
	}
	rec := func(op byte, c *dbztest.Content, lsn int64, at time.Time) *kgo.Record {
		return &kgo.Record{Topic: contentTopic, Partition: partitionOf(c.ID), Key: w.Key(dbztest.FormPlain, c.ID),
			Value: w.Change(dbztest.FormPlain, op, c, dbztest.Source{LSN: lsn, TsMs: at.UnixMilli(), TxID: lsn})}
	}
	kc.Produce(rec('c', row(a, &podcast, 1200), 100, t0), rec('c', row(b, &video, 300), 108, t0), rec('u', row(a, &podcast, 600), 116, t1))

	// Postgres holds the current rows and the events: 1,000 of a, one
	// every 7 s from t0-20m (so about half before t1), and named edge cases.
	from, to := t0.Add(-30*time.Minute), t1.Add(90*time.Minute)
	sql := datagen.Schema + fmt.Sprintf(`
INSERT INTO content VALUES ('%[1]s', 'a', 't', 'podcast', 600, '%[3]s'), ('%[2]s', 'b', 't', 'video', 300, '%[3]s');
INSERT INTO engagement_events (content_id, user_id, event_type, event_ts, duration_ms, device, raw_payload)
SELECT '%[1]s', gen_random_uuid(), 'play', timestamptz '%[4]s' + i * interval '7 seconds', 60000, 'ios', '{"n": 1}'
FROM generate_series(1, 1000) i;
INSERT INTO engagement_events (id, content_id, event_type, event_ts, duration_ms) VALUES
 (5001, '%[1]s', 'play', '%[5]s', 600000),  -- the millisecond before t1: old length
 (5002, '%[1]s', 'play', '%[6]s', 600000),  -- exactly t1: new length
 (5003, '%[1]s', 'play', '%[7]s', 12000),   -- before a existed: its first version
 (5004, '%[2]s', 'finish', '%[6]s', 150000), -- unchanged content
 (5005, '%[1]s', 'play', '%[8]s', 1000),    -- at --to: outside
 (5006, '%[1]s', 'play', '%[9]s', 1000);    -- before --from: outside`,
		a, b, t0.Add(-24*time.Hour).Format(time.RFC3339), t0.Add(-20*time.Minute).Format(time.RFC3339),
		t1.Add(-time.Millisecond).Format(time.RFC3339Nano), t1.Format(time.RFC3339), t0.Add(-10*time.Minute).Format(time.RFC3339),
		to.Format(time.RFC3339), from.Add(-time.Microsecond).Format(time.RFC3339Nano))
	if err := pg.Exec(ctx, "postgres", sql); err != nil {
		t.Fatal(err)
	}
	// What the enrichment should say: length and pct per event id.
	want := map[string]string{
		"5001": "type=podcast len=1200 secs=600 pct=0.5", "5002": "type=podcast len=600 secs=600 pct=1",
		"5003": "type=podcast len=1200 secs=12 pct=0.01", "5004": "type=video len=300 secs=150 pct=0.5",
	}
	before := 0
	for i := 1; i <= 1000; i++ {
		ts := t0.Add(-20*time.Minute + time.Duration(i)*7*time.Second)
		if ts.Before(t1) {
			want[strconv.Itoa(i)] = "type=podcast len=1200 secs=60 pct=0.05"
			before++
		} else {
			want[strconv.Itoa(i)] = "type=podcast len=600 secs=60 pct=0.1"
		}
	}
	t.Logf("%d events before t1, %d from t1 on", before+2, len(want)-before-2)

	cfg := testConfig(kc.Addrs(), t.TempDir())
	tm := startMain(t, cfg)
	tm.waitReady(30 * time.Second)

	args := []string{"--pg-url", pg.URL("postgres"), "--brokers", strings.Join(kc.Addrs(), ","),
		"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339),
		"--checkpoint", filepath.Join(t.TempDir(), "cp"), "--batch", "300"}
	out, err := runBackfill(t, append(args, "--dry-run")...)
	if err != nil || !strings.Contains(out, fmt.Sprintf("would send %d events, ids 1 to 5004", len(want))) {
		t.Fatalf("dry run: %q, %v", out, err)
	}
	out, err = runBackfill(t, args...)
	if err != nil || !strings.HasPrefix(out, fmt.Sprintf("backfill: sent %d events", len(want))) {
		t.Fatalf("backfill: %q, %v", out, err)
	}
	t.Log(strings.TrimSpace(out))

	dec := newOutputDecoder(t, nil)
	got := map[string]string{}
	for _, r := range kc.ReadAll(outputTopic, len(want), 60*time.Second) {
		e := dec.decode(r)
		if e.headers["source.topic"] != backfillTopic {
			t.Errorf("event %s enriched from %q, want %s", e.key, e.headers["source.topic"], backfillTopic)
		}
		got[e.key] = strings.TrimPrefix(e.String(), "key="+e.key+" ")
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("event %s: got %q, want %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d events enriched, want %d", len(got), len(want))
	}
	testkafka.Eventually(t, 30*time.Second, "the service to count the events", func() bool {
		return counter(t, tm.Registry, "enricher_events_total", nil) == float64(len(want))
	})
}

// TestBackfillFlags checks the command's refusals are one line naming the
// flag, and that a second run on the same checkpoint needs --resume.
func TestBackfillFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no pg url", []string{"--from", "2025-01-01T00:00:00Z", "--to", "2025-01-02T00:00:00Z"}, "--pg-url ($PG_URL): is required"},
		{"no from", []string{"--pg-url", "postgres://x@localhost/db", "--to", "2025-01-02T00:00:00Z"}, "--from ($BACKFILL_FROM): is required"},
		{"bad time", []string{"--pg-url", "postgres://x@localhost/db", "--from", "yesterday", "--to", "2025-01-02T00:00:00Z"},
			`--from ($BACKFILL_FROM): "yesterday" is not an RFC 3339 time`},
		{"from after to", []string{"--pg-url", "postgres://x@localhost/db", "--from", "2025-01-03T00:00:00Z", "--to", "2025-01-02T00:00:00+02:00"},
			"--from 2025-01-03T00:00:00Z is not before --to 2025-01-02T00:00:00+02:00"},
		{"bad batch", []string{"--pg-url", "postgres://x@localhost/db", "--from", "2025-01-01", "--to", "2025-01-02", "--batch", "0"}, "--batch ($BACKFILL_BATCH)"},
		{"negative rate", []string{"--pg-url", "postgres://x@localhost/db", "--from", "2025-01-01", "--to", "2025-01-02", "--rate", "-1"}, "--rate ($BACKFILL_RATE)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runBackfill(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line containing %q", err, tc.want)
			}
		})
	}

	pg := startPG(t)
	if err := pg.Exec(context.Background(), "postgres", datagen.Schema+
		`INSERT INTO engagement_events (event_ts) SELECT '2025-01-01Z'::timestamptz + i * interval '1 minute' FROM generate_series(1, 100) i;`); err != nil {
		t.Fatal(err)
	}
	kc := testkafka.New(t)
	kc.Topic(backfillTopic, 1, nil)
	cp := filepath.Join(t.TempDir(), "cp")
	t.Setenv("PG_URL", pg.URL("postgres"))
	t.Setenv("KAFKA_BROKERS", strings.Join(kc.Addrs(), ","))
	t.Setenv("BACKFILL_CHECKPOINT", cp)
	if out, err := runBackfill(t, "--from", "2025-01-01", "--to", "2025-01-01T01:00:00Z"); err != nil || !strings.Contains(out, "sent 59 events") {
		t.Fatalf("first run: %q, %v", out, err)
	}
	if _, err := runBackfill(t, "--from", "2025-01-01", "--to", "2025-01-01T01:00:00Z"); err == nil || !strings.Contains(err.Error(), "pass --resume to continue it") {
		t.Fatalf("second run without --resume: %v", err)
	}
	if _, err := runBackfill(t, "--from", "2025-01-01", "--to", "2025-01-01T02:00:00Z", "--resume"); err == nil ||
		!strings.Contains(err.Error(), "is for --from 2025-01-01T00:00:00Z --to 2025-01-01T01:00:00Z") {
		t.Fatalf("resume with another range: %v", err)
	}
	out, err := runBackfill(t, "--from", "2025-01-01", "--to", "2025-01-01T01:00:00Z", "--resume")
	if err != nil || !strings.Contains(out, "sent completely") {
		t.Fatalf("resume of a complete run: %q, %v", out, err)
	}
	if c, err := backfill.LoadCheckpoint(cp); err != nil || !c.Done || *c.LastID != 59 || c.Sent != 59 {
		t.Fatalf("checkpoint: %s, %v", c, err)
	}
	res, err := (&kafka.Client{Addr: kafka.TCP(kc.Addrs()...)}).ListOffsets(context.Background(),
		&kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{backfillTopic: {kafka.LastOffsetOf(0)}}})
	if err != nil {
		t.Fatal(err)
	}
	if po := res.Topics[backfillTopic]; len(po) != 1 || po[0].LastOffset != 59 {
		t.Fatalf("%s holds %+v, want 59 records", backfillTopic, po)
	}
}

// TestBackfillREADMEFlags keeps README-backfill.md's flag table true.
func TestBackfillREADMEFlags(t *testing.T) {
	b, err := os.ReadFile("../../README-backfill.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| `([A-Z_]+)` \\| (?:`([^`]*)`|\\(required\\)) \\|")
	documented := map[string][2]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = [2]string{m[2], m[3]}
	}
	newBackfillCmd().Flags().VisitAll(func(f *pflag.Flag) {
		doc, ok := documented[f.Name]
		delete(documented, f.Name)
		switch {
		case !ok:
			t.Errorf("--%s is not in README-backfill.md's flag table", f.Name)
		case len(f.Annotations[cli.EnvAnnotation]) != 1 || f.Annotations[cli.EnvAnnotation][0] != doc[0]:
			t.Errorf("--%s: README says $%s, the binary reads %v", f.Name, doc[0], f.Annotations[cli.EnvAnnotation])
		case f.DefValue != doc[1]:
			t.Errorf("--%s: README says default %q, the binary has %q", f.Name, doc[1], f.DefValue)
		}
	})
	for name := range documented {
		t.Errorf("README-backfill.md documents --%s, which `enricher backfill` does not have", name)
	}
}

// TestBackfillConnectFailureIsOneLine runs the binary against a Postgres it
// cannot use and checks README-backfill.md's promise: the failure is one
// line on stderr naming Postgres, where, and what to check, with exit
// status 1 and no checkpoint written.
func TestBackfillConnectFailureIsOneLine(t *testing.T) {
	refused := testproc.FreeAddr(t) // nothing listens there any more
	for _, tc := range []struct {
		name   string
		pgURL  func(t *testing.T) string
		prefix string // of the one line
		hint   string
	}{
		{"server refuses connections", func(*testing.T) string { return "postgres://nobody@" + refused + "/x" },
			"enricher: backfill: connect to postgres at " + refused + ": dial tcp " + refused + ": connect: connection refused",
			"(is --pg-url right and the server up?)"},
		{"database does not exist", func(t *testing.T) string {
			pg := startPG(t)
			return strings.Replace(pg.URL("postgres"), "/postgres?", "/no_such_db?", 1)
		}, "enricher: backfill: connect to postgres at 127.0.0.1:", "(are the user, password and database in --pg-url right?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pgURL := tc.pgURL(t)
			cp := filepath.Join(t.TempDir(), "cp")
			cmd := exec.Command(testproc.Binary(t), "backfill", "--pg-url", pgURL, "--from", "2025-01-01T00:00:00Z",
				"--to", "2025-02-01T00:00:00Z", "--brokers", "127.0.0.1:9092", "--checkpoint", cp)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 1 {
				t.Fatalf("got %v, want exit status 1", err)
			}
			var lines []string
			for _, l := range strings.Split(stderr.String(), "\n") {
				if strings.TrimSpace(l) != "" {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.prefix) || !strings.HasSuffix(lines[0], tc.hint) {
				t.Fatalf("stderr:\n%s\nwant one line starting %q and ending %q", stderr.String(), tc.prefix, tc.hint)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q, want nothing", stdout.String())
			}
			if _, err := os.Stat(cp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("checkpoint %s: %v, want none written", cp, err)
			}
		})
	}
}
