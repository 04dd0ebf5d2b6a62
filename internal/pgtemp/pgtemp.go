// Package pgtemp starts a throwaway PostgreSQL cluster from the server
// binaries Debian's postgresql package installs, for tests and `enricher demo`.
//
// The cluster listens on 127.0.0.1 on a free port, trusts local connections,
// has logical replication on (wal_level=logical) and fsync off, and lives in
// a temporary directory removed by Stop. As root it runs as the postgres OS
// user, because initdb and postgres refuse to run as root.
//
// Every cluster is a copy (~0.3 s) of a template data directory that initdb
// made once per machine, user and server version, and that is kept in the
// user's cache directory, not in the temporary directory: see CacheDir. The
// template is created under a lock and moved into place by a rename, so
// concurrent processes (go test runs packages in parallel) make it once and
// never see it half-written; it is reused across processes and never grows
// beyond one directory per Postgres server version.
package pgtemp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoServer means no PostgreSQL server binaries were found.
var ErrNoServer = errors.New("no PostgreSQL server binaries (install Debian's postgresql package)")

// BinDir returns the directory holding initdb and postgres.
func BinDir() (string, error) {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(found))) // newest major version first
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoServer
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// Cluster is a running server.
type Cluster struct {
	Dir     string
	Port    int
	cmd     *exec.Cmd
	done    chan struct{} // closed when the server exited
	waitErr error         // its exit status, set before done is closed
}

// URL returns a connection URL for database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// template is this process's template data directory: found in the cache,
// or made there, by the first Start.
var template struct {
	once sync.Once
	dir  string
	err  error
}

// Start starts a cluster; Stop removes it.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := credential()
	if err != nil {
		return nil, err
	}
	template.once.Do(func() { template.dir, template.err = cachedTemplate(bin, cred, uid, gid) })
	if template.err != nil {
		return nil, template.err
	}
	root, err := os.MkdirTemp("", "enricher-pg-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "data")
	if out, err := exec.Command("cp", "-a", template.dir, dir).CombinedOutput(); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("copy template cluster: %v: %s", err, out)
	}
	if err := chownAll(root, uid, gid); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", dir, "-p", strconv.Itoa(port), "-k", root,
		"-c", "listen_addresses=127.0.0.1", "-c", "wal_level=logical", "-c", "max_replication_slots=10",
		"-c", "max_wal_senders=10", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=50")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	logf, err := os.Create(filepath.Join(root, "postgres.log"))
	if err == nil {
		cmd.Stdout, cmd.Stderr = logf, logf
		defer logf.Close()
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &Cluster{Dir: root, Port: port, cmd: cmd, done: make(chan struct{})}
	// done is closed, not sent on: waitReady and Stop may both wait for the exit.
	go func() { c.waitErr = cmd.Wait(); close(c.done) }()
	if err := c.waitReady(ctx); err != nil {
		c.Stop()
		log, _ := os.ReadFile(filepath.Join(root, "postgres.log"))
		return nil, fmt.Errorf("postgres did not start: %w: %s", err, log)
	}
	return c, nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited: %v", c.waitErr)
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Exec runs SQL statements in database db.
func (c *Cluster) Exec(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast mode) and removes its directory.
func (c *Cluster) Stop() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
	}
	os.RemoveAll(c.Dir)
}

// initdbArgs are initdb's options after -D; they are part of the template's
// cache key.
var initdbArgs = []string{"-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"}

// CacheDir returns the directory holding the template data directories:
// enricher/pgtemplate under os.UserCacheDir ($XDG_CACHE_HOME, else
// ~/.cache), or enricher-cache-<uid>/pgtemplate under os.TempDir when there
// is no home directory. It holds a lock file and one data directory per
// Postgres server version (named pg<version>-<hash>, about 40 MB); deleting
// it is safe while no cluster is starting.
func CacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "enricher", "pgtemplate")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("enricher-cache-%d", os.Getuid()), "pgtemplate")
}

// cachedTemplate returns the template data directory for the server in bin
// run as uid, making it when the cache has none.
func cachedTemplate(bin string, cred *syscall.Credential, uid, gid int) (string, error) {
	base := CacheDir()
	key, err := templateKey(bin, uid)
	if err != nil {
		return "", err
	}
	final := filepath.Join(base, key)
	if complete(final) {
		return final, nil
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("template cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(base, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("template cache: %w", err)
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("template cache: lock: %w", err)
	}
	if complete(final) { // another process made it while we waited
		return final, nil
	}
	removeLeftovers(base)
	if err := os.RemoveAll(final); err != nil { // incomplete: damaged by hand
		return "", fmt.Errorf("template cache: %w", err)
	}
	// initdb runs as the postgres user when we are root, and it cannot
	// reach a cache under /root: make the cluster in the temporary
	// directory, like the clusters themselves, then copy it in.
	work, err := os.MkdirTemp("", "enricher-pginit-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if err := chownAll(work, uid, gid); err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), append([]string{"-D", filepath.Join(work, "data")}, initdbArgs...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v: %s", err, out)
	}
	staging := filepath.Join(base, ".tmp-"+key)
	if out, err := exec.Command("cp", "-a", filepath.Join(work, "data"), staging).CombinedOutput(); err != nil {
		os.RemoveAll(staging)
		return "", fmt.Errorf("copy template into %s: %v: %s", base, err, out)
	}
	if err := os.Rename(staging, final); err != nil {
		os.RemoveAll(staging)
		return "", fmt.Errorf("template cache: %w", err)
	}
	return final, nil
}

// complete says whether dir is a data directory initdb finished: a template
// only appears under its final name once complete, so this fails only when
// someone damaged it.
func complete(dir string) bool {
	for _, f := range []string{"PG_VERSION", filepath.Join("global", "pg_control")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

var serverVersion = regexp.MustCompile(`[0-9]+(\.[0-9]+)*`)

// templateKey names the template of the server in bin run as uid: its
// version, and a hash of everything initdb's output depends on.
func templateKey(bin string, uid int) (string, error) {
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("postgres --version: %w", err)
	}
	version := strings.TrimSpace(string(out))
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s", bin, version, uid, strings.Join(initdbArgs, " "))
	short := serverVersion.FindString(version)
	if short == "" {
		short = "unknown"
	}
	return "pg" + short + "-" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// removeLeftovers removes what a process killed while making a template
// left: its staging copy in the cache, and, after an hour (initdb takes
// seconds), its initdb directory. The caller holds the cache's lock.
func removeLeftovers(base string) {
	staged, _ := filepath.Glob(filepath.Join(base, ".tmp-*"))
	for _, d := range staged {
		os.RemoveAll(d)
	}
	inits, _ := filepath.Glob(filepath.Join(os.TempDir(), "enricher-pginit-*"))
	for _, d := range inits {
		if st, err := os.Stat(d); err == nil && time.Since(st.ModTime()) > time.Hour {
			os.RemoveAll(d)
		}
	}
}

// credential returns who runs the server: the postgres user when we are root.
func credential() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, os.Getuid(), os.Getgid(), nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root needs the postgres OS user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

func chownAll(dir string, uid, gid int) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
