package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testproc"
)

// TestFaultDiskDamage damages the Badger data dir while the service is
// stopped (after a graceful stop and after a SIGKILL): deleted, emptied,
// each file kind truncated or with bytes flipped. The service must then
// either rebuild a view equal to the source or exit non-zero with a one-line
// error naming the data dir; it must never serve wrong data.
func TestFaultDiskDamage(t *testing.T) {
	e := newFaultEnv(t)
	e.produceContent(1500)

	snap := map[string]string{}
	p := e.start()
	e.waitReady(p, 60*time.Second)
	e.assertView()
	p.Signal(syscall.SIGTERM)
	if code, ok := p.Wait(15 * time.Second); !ok || code != 0 {
		t.Fatalf("SIGTERM: exited=%v code=%d\n%s", ok, code, testproc.Tail(p.Output(), 20))
	}
	snap["stopped"] = copyDir(t, e.dataDir)

	p = e.start()
	e.waitReady(p, 60*time.Second)
	e.produceContent(300)
	e.waitViewCaughtUp(p, 30*time.Second)
	p.Kill()
	snap["killed"] = copyDir(t, e.dataDir)

	type damage struct {
		name  string
		apply func(t *testing.T, dir string) bool // false: nothing to damage
	}
	var cases []damage
	cases = append(cases,
		damage{"deleted", func(t *testing.T, dir string) bool { return os.RemoveAll(dir) == nil }},
		damage{"emptied", func(t *testing.T, dir string) bool {
			ents, _ := os.ReadDir(dir)
			for _, en := range ents {
				_ = os.RemoveAll(filepath.Join(dir, en.Name()))
			}
			return true
		}},
	)
	for _, kind := range []string{".sst", ".vlog", ".mem", "MANIFEST", "KEYREGISTRY", "DISCARD"} {
		for _, how := range []string{"truncated-half", "truncated-zero", "flipped"} {
			cases = append(cases, damage{kind + "-" + how, func(t *testing.T, dir string) bool {
				files := filesEnding(dir, kind)
				for _, f := range files {
					damageFile(t, f, how)
				}
				return len(files) > 0
			}})
		}
		cases = append(cases, damage{kind + "-removed", func(t *testing.T, dir string) bool {
			files := filesEnding(dir, kind)
			for _, f := range files {
				_ = os.Remove(f)
			}
			return len(files) > 0
		}})
	}

	parentGen := e.gen.t
	defer func() { e.gen.t = parentGen }()
	var rebuilt, refused, untouched []string
	for _, from := range []string{"stopped", "killed"} {
		for _, c := range cases {
			t.Run(from+"/"+c.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "data")
				copyInto(t, snap[from], dir)
				if !c.apply(t, dir) {
					untouched = append(untouched, from+"/"+c.name)
					t.Skipf("no %s file in the %s snapshot", c.name, from)
				}
				se := *e
				se.t, se.dataDir = t, dir
				e.gen.t = t
				p := se.start()
				readyOrExit(t, &se, p)
				if p.Exited() {
					code, _ := p.Wait(0)
					last := p.LastLine()
					if code == 0 || !strings.HasPrefix(last, "enricher: ") || !strings.Contains(last, dir) {
						t.Fatalf("exited %d; want non-zero with a last line `enricher: ...` naming %s; output:\n%s", code, dir, testproc.Tail(p.Output(), 40))
					}
					refused = append(refused, from+"/"+c.name)
					t.Logf("refused (exit %d): %s", code, last)
					return
				}
				se.assertView()
				rebuilt = append(rebuilt, from+"/"+c.name)
				p.Signal(syscall.SIGTERM)
				if code, ok := p.Wait(15 * time.Second); !ok || code != 0 {
					t.Fatalf("SIGTERM: exited=%v code=%d\n%s", ok, code, testproc.Tail(p.Output(), 20))
				}
			})
		}
	}
	t.Logf("disk damage: served the right view after %d: %v", len(rebuilt), rebuilt)
	t.Logf("disk damage: refused to start after %d: %v", len(refused), refused)
	t.Logf("disk damage: not applicable %d: %v", len(untouched), untouched)
}

// readyOrExit waits until the process is ready or has exited.
func readyOrExit(t *testing.T, e *faultEnv, p *testproc.Proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !p.Exited() {
		if p.WaitHTTP(e.httpAdr, "/healthz", 200, 60*time.Second) {
			if p.WaitHTTP(e.httpAdr, "/readyz", 200, time.Until(deadline)) {
				return
			}
		}
	}
}

func filesEnding(dir, suffix string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), suffix) {
			out = append(out, path)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func damageFile(t *testing.T, path, how string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	switch how {
	case "truncated-half":
		err = os.Truncate(path, st.Size()/2)
	case "truncated-zero":
		err = os.Truncate(path, 0)
	case "flipped":
		var b []byte
		if b, err = os.ReadFile(path); err == nil {
			// Flip a run of bytes in the middle and one near each end.
			for i := len(b) / 2; i < len(b)/2+64 && i < len(b); i++ {
				b[i] ^= 0xFF
			}
			if len(b) > 40 {
				b[20] ^= 0x5A
				b[len(b)-20] ^= 0x5A
			}
			err = os.WriteFile(path, b, 0o644)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "snapshot")
	copyInto(t, src, dst)
	return dst
}

func copyInto(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
