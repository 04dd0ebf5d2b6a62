// Package testredis starts a real redis-server for tests: on 127.0.0.1, on a
// free port, in a temporary directory, without persistence (no snapshots,
// no append-only file), stopped when the test ends. A test is skipped, with a
// message saying what to install, when no redis-server binary is found.
//
// Stop and Start let a test take Redis down and bring it back on the same
// port; with no persistence a restarted server is empty, as a production
// Redis without persistence would be.
package testredis

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNoServer means no redis-server binary was found.
var ErrNoServer = errors.New("no redis-server binary (apt-get install -y redis-server, or set $REDIS_SERVER)")

// Binary returns the path of redis-server: $REDIS_SERVER, then $PATH, then
// the places Debian installs it.
func Binary() (string, error) {
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		if isExec(p) {
			return p, nil
		}
		return "", fmt.Errorf("$REDIS_SERVER=%q is not an executable", p)
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"} {
		if isExec(p) {
			return p, nil
		}
	}
	return "", ErrNoServer
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Server is a redis-server process owned by a test.
type Server struct {
	Port int
	Dir  string

	t   testing.TB
	bin string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
}

// New starts a server that is stopped when the test ends; it skips the test
// when redis-server is not installed.
func New(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("testredis: free port: %v", err)
	}
	s := &Server{Port: port, Dir: t.TempDir(), t: t, bin: bin}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is a redis:// URL of database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Start starts the server on its port (again, after Stop) and returns once it
// answers PING.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatalf("testredis: server on port %d is already running", s.Port)
	}
	logPath := filepath.Join(s.Dir, "redis.log")
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.Dir, "--logfile", logPath,
		"--daemonize", "no", "--protected-mode", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("testredis: start %s: %v", s.bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := waitPing(s.Addr(), done, 10*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-done
		log, _ := os.ReadFile(logPath)
		s.t.Fatalf("testredis: redis-server on port %d did not start: %v\n%s", s.Port, err, tail(string(log), 2000))
	}
	s.cmd, s.done = cmd, done
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it
// to exit; without persistence its data is gone. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// waitPing polls the server with PING until it answers +PONG, the process
// exits, or the deadline passes.
func waitPing(addr string, exited <-chan error, deadline time.Duration) error {
	end := time.Now().Add(deadline)
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		select {
		case e := <-exited:
			return fmt.Errorf("redis-server exited: %v", e)
		default:
		}
		if time.Now().After(end) {
			return fmt.Errorf("no PONG within %v: %w", deadline, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
