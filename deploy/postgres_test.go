package deploy

// deploy/postgres/*.sql, the postgres image's init scripts, run against a
// real Postgres 15 (internal/pgtemp), then exercised as Debezium would.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/tools/datagen"
)

// TestPostgresInitScripts runs deploy/postgres/*.sql as the postgres image's
// entrypoint would (in name order, as the superuser, in $POSTGRES_DB), then
// does as the connector's role what Debezium does at start: create and
// re-align its filtered publication, read the tables for the snapshot, run
// the heartbeat query, and stream from a pgoutput slot, where the heartbeat
// must arrive.
func TestPostgresInitScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Postgres")
	}
	cf := loadCompose(t)
	dbname := cf.Services["postgres"].env()["POSTGRES_DB"]
	conn := loadConnector(t, repoPath(mainConnector))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cl, err := pgtemp.Start(ctx)
	if errors.Is(err, pgtemp.ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	if err := cl.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{dbname}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	urlAs := func(user string) string {
		return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, cl.Port, dbname)
	}
	scripts, _ := filepath.Glob(repoPath("deploy/postgres/*.sql"))
	if len(scripts) == 0 {
		t.Fatal("no deploy/postgres/*.sql")
	}
	sort.Strings(scripts)
	for _, s := range scripts {
		if err := runSQLFile(ctx, urlAs("postgres"), s); err != nil {
			t.Fatalf("%s: %v", filepath.Base(s), err)
		}
	}

	admin, err := pgx.Connect(ctx, urlAs("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	dbz, err := pgx.Connect(ctx, urlAs(conn["database.user"]))
	if err != nil {
		t.Fatalf("the connector's role %q cannot log in: %v", conn["database.user"], err)
	}
	defer dbz.Close(context.Background())

	var tables []string
	for _, tbl := range conn.list("table.include.list") {
		schema, name, _ := strings.Cut(tbl, ".")
		tables = append(tables, pgx.Identifier{schema, name}.Sanitize())
	}
	pub := pgx.Identifier{conn["publication.name"]}.Sanitize()

	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"seed catalogue loaded", func(t *testing.T) {
			var rows, events int
			if err := admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM content), (SELECT count(*) FROM engagement_events)`).Scan(&rows, &events); err != nil {
				t.Fatal(err)
			}
			if rows < 5 || events == 0 {
				t.Errorf("got %d content rows and %d events, want a seed catalogue with a few events", rows, events)
			}
			var n int
			if err := admin.QueryRow(ctx, `SELECT count(*) FROM content WHERE id = 'c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("the row README-operations.md queries is missing (%d, %v)", n, err)
			}
		}},
		{"replica identity default", func(t *testing.T) {
			for _, tbl := range []string{"content", "engagement_events"} {
				var ident string
				if err := admin.QueryRow(ctx, `SELECT relreplident::text FROM pg_class WHERE oid = $1::regclass`, tbl).Scan(&ident); err != nil {
					t.Fatal(err)
				}
				if ident != "d" {
					t.Errorf("%s: replica identity %q, want d (DEFAULT), as 10-schema.sql explains", tbl, ident)
				}
			}
		}},
		{"datagen adopts the tables", func(t *testing.T) {
			if _, err := admin.Exec(ctx, datagen.Schema); err != nil {
				t.Errorf("datagen's DDL on the stack's schema: %v", err)
			}
		}},
		{"connector role creates the filtered publication", func(t *testing.T) {
			if _, err := dbz.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+strings.Join(tables, ", ")); err != nil {
				t.Fatal(err)
			}
		}},
		{"connector role re-aligns the publication", func(t *testing.T) {
			if _, err := dbz.Exec(ctx, "ALTER PUBLICATION "+pub+" SET TABLE "+strings.Join(tables, ", ")); err != nil {
				t.Fatal(err)
			}
		}},
		{"connector role reads the tables", func(t *testing.T) {
			for _, tbl := range tables {
				var n int
				if err := dbz.QueryRow(ctx, "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
					t.Errorf("snapshot of %s: %v", tbl, err)
				}
			}
		}},
		{"heartbeat streams through the publication", func(t *testing.T) {
			streamHeartbeat(ctx, t, urlAs(conn["database.user"]), dbz, conn)
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// runSQLFile runs a script with psql, as the postgres image's entrypoint
// does (ON_ERROR_STOP), or through pgx when psql is not installed.
func runSQLFile(ctx context.Context, pgURL, path string) error {
	if psql, err := exec.LookPath("psql"); err == nil {
		out, err := exec.CommandContext(ctx, psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-d", pgURL, "-f", path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, string(b))
	return err
}

// streamHeartbeat opens a temporary pgoutput slot named like the
// connector's, runs the heartbeat query and waits for its change.
func streamHeartbeat(ctx context.Context, t *testing.T, pgURL string, conn *pgx.Conn, c connectorConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cfg, err := pgconn.ParseConfig(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["replication"] = "database"
	repl, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("replication connection as %s: %v", cfg.User, err)
	}
	defer repl.Close(context.Background())
	if _, err := pglogrepl.CreateReplicationSlot(ctx, repl, c["slot.name"], "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, Mode: pglogrepl.LogicalReplication}); err != nil {
		t.Fatalf("create slot %s: %v", c["slot.name"], err)
	}
	if err := pglogrepl.StartReplication(ctx, repl, c["slot.name"], 0, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication, PluginArgs: []string{"proto_version '1'", "publication_names '" + c["publication.name"] + "'"},
	}); err != nil {
		t.Fatalf("start replication: %v", err)
	}
	if _, err := conn.Exec(ctx, c["heartbeat.action.query"]); err != nil {
		t.Fatalf("heartbeat.action.query as %s: %v", cfg.User, err)
	}
	relations := map[uint32]string{}
	for {
		msg, err := repl.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("no heartbeat change on the slot: %v", err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 || cd.Data[0] != pglogrepl.XLogDataByteID {
			continue
		}
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			t.Fatal(err)
		}
		lm, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			t.Fatal(err)
		}
		var rel uint32
		switch m := lm.(type) {
		case *pglogrepl.RelationMessage:
			relations[m.RelationID] = m.Namespace + "." + m.RelationName
			continue
		case *pglogrepl.InsertMessage:
			rel = m.RelationID
		case *pglogrepl.UpdateMessage:
			rel = m.RelationID
		default:
			continue
		}
		if name := relations[rel]; name != "" && strings.Contains(c["heartbeat.action.query"], name) {
			return
		}
	}
}
