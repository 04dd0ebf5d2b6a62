// Package testproc builds the enricher binary once per test process and runs
// it as a real subprocess, so tests can SIGKILL, SIGTERM and restart it the
// way an orchestrator would.
package testproc

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of the enricher binary, built once per test process
// (`go build -o <tmp>/enricher ./cmd/enricher`); the Go build cache makes it
// cheap after the first time. The temporary directory holding it is removed
// by RemoveBinary, or left in os.TempDir when the process ends first.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "enricher-testproc-")
		if err != nil {
			buildErr = err
			return
		}
		// The go command running the tests, else the one on PATH.
		goBin := "go"
		if root := os.Getenv("GOROOT"); root != "" {
			if p := filepath.Join(root, "bin", "go"); fileExists(p) {
				goBin = p
			}
		}
		out := filepath.Join(dir, "enricher")
		cmd := exec.Command(goBin, "build", "-o", out, "github.com/thmanyah/enricher/cmd/enricher")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, b)
			return
		}
		binPath = out
	})
	if buildErr != nil {
		t.Fatalf("build enricher: %v", buildErr)
	}
	return binPath
}

// RemoveBinary deletes the binary built by Binary, for a TestMain that wants
// no leftovers.
func RemoveBinary() {
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Proc is a running (or exited) enricher subprocess.
type Proc struct {
	t     testing.TB
	cmd   *exec.Cmd
	out   *Buffer
	done  chan struct{}
	state *os.ProcessState
	Start time.Time
}

// Start runs the binary with args and env (KEY=VALUE, overriding the test's
// own environment); the process is killed when the test ends if still running.
func Start(t testing.TB, env []string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	p := &Proc{t: t, cmd: cmd, out: &Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	p.Start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start enricher: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("pid %d survived SIGKILL for 10s", p.Pid())
	}
}

// Signal sends sig.
func (p *Proc) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// Wait waits up to d for the process to exit and returns its exit code
// (-1 for a signal); ok is false when it is still running after d.
func (p *Proc) Wait(d time.Duration) (code int, ok bool) {
	if p.Exited() {
		return p.state.ExitCode(), true
	}
	select {
	case <-p.done:
		return p.state.ExitCode(), true
	case <-time.After(d):
		return 0, false
	}
}

// Output is everything the process wrote to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// LastLine is the last non-empty line of the output.
func (p *Proc) LastLine() string {
	lines := strings.Split(strings.TrimRight(p.Output(), "\n"), "\n")
	return lines[len(lines)-1]
}

// WaitHTTP polls http://addr+path until it answers want, the process exits
// (ok false) or the deadline passes (the test fails).
func (p *Proc) WaitHTTP(addr, path string, want int, deadline time.Duration) (ok bool) {
	p.t.Helper()
	cl := &http.Client{Timeout: time.Second}
	end := time.Now().Add(deadline)
	for {
		if p.Exited() {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		res, err := cl.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				cancel()
				return true
			}
		}
		cancel()
		if time.Now().After(end) {
			p.t.Fatalf("GET %s did not answer %d within %v; output:\n%s", path, want, deadline, Tail(p.Output(), 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Buffer is a bytes.Buffer that one goroutine (a process, a Run) writes
// while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
