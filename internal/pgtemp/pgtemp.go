// Package pgtemp starts a throwaway PostgreSQL cluster from the server
// binaries Debian's postgresql package installs, for tests and `enricher demo`.
//
// The cluster listens on 127.0.0.1 on a free port, trusts local connections,
// has logical replication on (wal_level=logical) and fsync off, and lives in
// a temporary directory removed by Stop. As root it runs as the postgres OS
// user, because initdb and postgres refuse to run as root. The first cluster
// of a process runs initdb into a template; later ones copy it (~0.3 s).
package pgtemp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
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
	Dir  string
	Port int
	cmd  *exec.Cmd
	done chan error
}

// URL returns a connection URL for database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

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
	template.once.Do(func() { template.dir, template.err = initTemplate(bin, cred, uid, gid) })
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
	c := &Cluster{Dir: root, Port: port, cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
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
		case err := <-c.done:
			return fmt.Errorf("postgres exited: %v", err)
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

func initTemplate(bin string, cred *syscall.Credential, uid, gid int) (string, error) {
	root, err := os.MkdirTemp("", "enricher-pgtemplate-")
	if err != nil {
		return "", err
	}
	if err := chownAll(root, uid, gid); err != nil {
		return "", err
	}
	dir := filepath.Join(root, "data")
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v: %s", err, out)
	}
	return dir, nil
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
