package pgtemp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartLogical(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx)
	if errors.Is(err, ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil || level != "logical" {
		t.Fatalf("wal_level: got %q, %v; want logical", level, err)
	}
}

// childEnv makes the test binary, re-executed by TestNothingLeftBehind,
// start and stop one cluster and print its directory.
const childEnv = "PGTEMP_TEST_CHILD"

// TestNothingLeftBehind starts and stops a cluster in a child process, twice,
// with the child's temporary and cache directories pointed at empty ones:
// once it exits, its temporary directory must be empty (no cluster, no
// template, no initdb directory), and its cache must hold one template,
// made by the first child and reused by the second.
func TestNothingLeftBehind(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		c, err := Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("cluster " + c.Dir + "\n")
		c.Stop()
		return
	}
	if _, err := BinDir(); err != nil {
		t.Skip(err)
	}
	// As root the server runs as the postgres user, which must reach its
	// directories in the child's temporary directory, as it does in /tmp.
	tmp, err := os.MkdirTemp("", "pgtemp-child-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	cacheHome := t.TempDir()
	cache := filepath.Join(cacheHome, "enricher", "pgtemplate")

	var template os.FileInfo
	for run := 1; run <= 2; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNothingLeftBehind$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"=1", "TMPDIR="+tmp, "XDG_CACHE_HOME="+cacheHome)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("child %d: %v\n%s%s", run, err, stdout.String(), stderr.String())
		}
		var dir string
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "cluster "); ok {
				dir = d
			}
		}
		if filepath.Dir(dir) != tmp {
			t.Fatalf("child %d: cluster in %q, want one in its TMPDIR %s\n%s", run, dir, tmp, stdout.String())
		}
		if left := names(t, tmp); len(left) > 0 {
			t.Errorf("child %d left %q in its temporary directory", run, left)
		}
		entries := names(t, cache)
		var templates []string
		for _, e := range entries {
			if e != "lock" {
				templates = append(templates, e)
			}
		}
		if len(templates) != 1 || !strings.HasPrefix(templates[0], "pg") {
			t.Fatalf("child %d: cache %s holds %q, want the lock and one pg<version>-<hash> template", run, cache, entries)
		}
		st, err := os.Stat(filepath.Join(cache, templates[0]))
		if err != nil {
			t.Fatal(err)
		}
		if template != nil && !os.SameFile(template, st) {
			t.Errorf("child %d made the template again instead of reusing the first child's", run)
		}
		template = st
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
