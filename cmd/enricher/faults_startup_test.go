package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testproc"
)

// A SIGKILL between Badger creating a .mem (or .vlog) file and sizing it
// leaves a 0-byte file, which badger.Open refuses (dgraph-io/badger#2207);
// store.Open removes such files first. These tests failed before that.

// TestFaultEmptyWALFileAfterCrash: the deterministic form of what a SIGKILL
// during start-up (or a memtable rotation) leaves behind.
func TestFaultEmptyWALFileAfterCrash(t *testing.T) {
	for _, name := range []string{"00099.mem", "000099.vlog"} {
		t.Run(name, func(t *testing.T) {
			e := newFaultEnv(t)
			e.gen.t = t
			e.produceContent(500)
			p := e.start()
			e.waitReady(p, 60*time.Second)
			p.Signal(syscall.SIGTERM)
			if code, ok := p.Wait(15 * time.Second); !ok || code != 0 {
				t.Fatalf("SIGTERM: exited=%v code=%d", ok, code)
			}
			if err := os.WriteFile(filepath.Join(e.dataDir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			p = e.start()
			e.waitReady(p, 60*time.Second)
			e.assertView()
		})
	}
}

// TestFaultKill9DuringStartup SIGKILLs the service at random moments of its
// start-up (data dir open, topic creation, view resume); every restart must
// come up again.
func TestFaultKill9DuringStartup(t *testing.T) {
	e := newFaultEnv(t)
	e.produceContent(500)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 4))
	const kills = 40
	for k := 0; k < kills; k++ {
		p := e.start()
		time.Sleep(time.Duration(rng.IntN(80)) * time.Millisecond) // a random moment: test input
		if p.Exited() {
			code, _ := p.Wait(0)
			t.Fatalf("restart %d exited by itself with %d:\n%s", k, code, testproc.Tail(p.Output(), 20))
		}
		p.Kill()
	}
	p := e.start()
	e.waitReady(p, 60*time.Second)
	e.assertView()
	t.Logf("start-up: %d kills survived", kills)
}
