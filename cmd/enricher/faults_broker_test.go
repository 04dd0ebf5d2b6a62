package main

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testproc"
)

// TestFaultBrokerOutage stops the (only) Kafka broker mid-stream for 10s and
// starts a new one on the same port with the same data dir (kfake persists
// topics, records and committed offsets with DataDir): the running service
// must recover by itself and lose nothing.
func TestFaultBrokerOutage(t *testing.T) {
	kfDir := t.TempDir()
	_, portStr, _ := net.SplitHostPort(testproc.FreeAddr(t))
	port, _ := strconv.Atoi(portStr)
	e := newFaultEnv(t, kfake.Ports(port), kfake.DataDir(kfDir))
	e.produceContent(300)
	out := e.tally()
	const n = 10000
	p := e.start()
	e.waitReady(p, 30*time.Second)
	ep := e.produceEvents(n, 500, e.gen.ids)
	e.waitProgress(p, ep, n, 2000, 60*time.Second)

	e.kc.Cluster.Close()
	down := time.Now()
	atOutage := out.total.Load()
	const outage = 10 * time.Second
	time.Sleep(outage) // the outage's length is the test input, not synchronisation
	if p.Exited() {
		code, _ := p.Wait(0)
		t.Fatalf("enricher exited with %d during the broker outage:\n%s", code, testproc.Tail(p.Output(), 30))
	}

	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(kfDir))
	if err != nil {
		t.Fatalf("restart kfake on port %d: %v", port, err)
	}
	t.Cleanup(c2.Close)
	shortenGroupTimeouts(c2)
	up := time.Now()
	atRestart := out.total.Load()
	testkafka.Eventually(t, 120*time.Second, "output to grow after the broker came back", func() bool {
		if p.Exited() {
			code, _ := p.Wait(0)
			t.Fatalf("enricher exited with %d after the outage:\n%s", code, testproc.Tail(p.Output(), 30))
		}
		return out.total.Load() > atRestart && ep.sent.Load() > 0
	})
	recovery := time.Since(up)
	testkafka.Eventually(t, 120*time.Second, "every event to come out", func() bool {
		if p.Exited() {
			t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
		}
		ep.check(t)
		return ep.finished() && out.unique.Load() >= n
	})
	drained := time.Since(up)
	p.Signal(syscall.SIGTERM)
	if code, ok := p.Wait(15 * time.Second); !ok || code != 0 {
		t.Fatalf("SIGTERM: exited=%v code=%d\n%s", ok, code, testproc.Tail(p.Output(), 30))
	}
	lost, dups, _ := out.summary(n)
	t.Logf("broker outage summary: outage %v (output %d at stop, %d at restart); first output %v after the broker came back; all %d events out %v after; lost=%d duplicates=%d",
		up.Sub(down).Round(time.Millisecond), atOutage, atRestart, recovery.Round(time.Millisecond), n, drained.Round(time.Millisecond), len(lost), dups)
	if len(lost) > 0 {
		t.Fatalf("%d events lost, first %v", len(lost), lost[:min(10, len(lost))])
	}
}
