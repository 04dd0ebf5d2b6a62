package main

// Exactly-once under SIGKILL and rebalances: `enricher run` as a real
// subprocess, the output tallied by a franz-go consumer. `make test-faults`
// runs them.

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testproc"
)

// produceBacklog produces events 0..n-1 at once, in large batches: about
// content from ids, and one in a hundred about content that never comes (it
// is held for --join-wait, so kills land while events are held).
func (e *faultEnv) produceBacklog(n int, ids []uuid.UUID) {
	e.t.Helper()
	rng := rand.New(rand.NewPCG(9, 9))
	const chunk = 5000
	for i := 0; i < n; i += chunk {
		recs := make([]*kgo.Record, 0, chunk)
		for id := i; id < min(i+chunk, n); id++ {
			c := ids[rng.IntN(len(ids))]
			if id%100 == 99 {
				c = uuid.New()
			}
			topic, part := eventsTopic, int32(id%3)
			if id%5 == 4 {
				topic, part = backfillTopic, int32(id%2)
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Key: []byte(strconv.Itoa(id)),
				Value: plainEvent(int64(id), &c, time.Now(), i32(int32(rng.IntN(3_600_000))))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := e.kc.Client.ProduceSync(ctx, recs...).FirstErr()
		cancel()
		if err != nil {
			e.t.Fatalf("produce backlog: %v", err)
		}
	}
}

// TestFaultKill9Backlog: 200,000 events already in the topics, the service
// SIGKILLed 20 times at random moments while it catches up and restarted
// each time: every event comes out exactly once.
func TestFaultKill9Backlog(t *testing.T) {
	e := newFaultEnv(t)
	e.produceContent(400)
	const n, kills = 200_000, 20
	e.produceBacklog(n, e.gen.ids)
	out := e.tally()
	rng := rand.New(rand.NewPCG(rand.Uint64(), 4))
	var midStart int
	for k := 0; k < kills; k++ {
		out.epoch.Store(int64(k))
		p := e.start()
		if k%5 == 2 {
			// Now and then just after it started its generation (scanned
			// the tails, committed its starting positions). Not while it
			// joins: kfake keeps a member killed before its JoinGroup answer
			// was delivered in the group for good (its session timer is only
			// armed once a reply is delivered: groups.go, (*group).reply),
			// where Kafka would evict it after the session timeout.
			waitGeneration(t, p, e.httpAdr)
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // a random moment: test input
			midStart++
		} else {
			target := out.total.Load() + 1 + int64(rng.IntN(2*n/kills))
			testkafka.Eventually(t, 60*time.Second, "the output to grow", func() bool {
				if p.Exited() {
					t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
				}
				return out.total.Load() >= target || out.unique.Load() >= n
			})
		}
		p.Kill()
		t.Logf("kill %d: %d records out", k, out.total.Load())
	}
	out.epoch.Store(kills)
	p := e.start()
	testkafka.Eventually(t, 120*time.Second, "every event to come out", func() bool {
		if p.Exited() {
			t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
		}
		return out.unique.Load() >= n
	})
	// Whatever a late duplicate would be has had time to arrive: the
	// service is idle once its consumer lag is 0.
	e.waitIdle(p)
	p.Signal(syscall.SIGTERM)
	if code, ok := p.Wait(15 * time.Second); !ok || code != 0 {
		t.Fatalf("after SIGTERM: exited=%v code=%d\n%s", ok, code, testproc.Tail(p.Output(), 30))
	}
	lost, dups, maxDups := out.summary(n)
	t.Logf("kill -9 during catch-up: kills=%d (%d while starting) events=%d lost=%d duplicates=%d (max %d in one restart) output records=%d",
		kills, midStart, n, len(lost), dups, maxDups, out.total.Load())
	if len(lost) > 0 {
		t.Fatalf("%d events lost, first %v", len(lost), lost[:min(10, len(lost))])
	}
	if dups > 0 {
		t.Fatalf("%d duplicates; want 0", dups)
	}
}

// waitGeneration waits until the instance serving addr has started a
// generation: /debug/stats lists the partitions it owns.
func waitGeneration(t *testing.T, p *testproc.Proc, addr string) {
	t.Helper()
	testkafka.Eventually(t, 60*time.Second, "the instance to start a generation", func() bool {
		if p.Exited() {
			t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
		}
		res, err := http.Get("http://" + addr + "/debug/stats")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var stats struct {
			Engagement []json.RawMessage `json:"engagement"`
		}
		return json.NewDecoder(res.Body).Decode(&stats) == nil && len(stats.Engagement) > 0
	})
}

// waitIdle waits until the service has committed everything in its
// partitions (lag 0 in /debug/stats) and holds no event.
func (e *faultEnv) waitIdle(p *testproc.Proc) {
	e.t.Helper()
	testkafka.Eventually(e.t, 60*time.Second, "the service to commit everything", func() bool {
		if p.Exited() {
			e.t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
		}
		res, err := http.Get("http://" + e.httpAdr + "/debug/stats")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var stats struct {
			Engagement []struct {
				Lag int64 `json:"lag"`
			} `json:"engagement"`
		}
		if json.NewDecoder(res.Body).Decode(&stats) != nil || len(stats.Engagement) == 0 {
			return false
		}
		for _, p := range stats.Engagement {
			if p.Lag != 0 {
				return false
			}
		}
		return true
	})
}

// TestFaultRebalanceUnderLoad: while events stream in, a second instance
// joins the group and leaves it again, six times (by SIGTERM, or by SIGKILL
// every other time); each join and leave moves partitions between the two.
// Every event comes out exactly once.
func TestFaultRebalanceUnderLoad(t *testing.T) {
	e := newFaultEnv(t)
	e.produceContent(300)
	out := e.tally()
	const n, rounds = 30_000, 6
	ep := e.produceEvents(n, 1000, e.gen.ids)
	a := testproc.Start(t, append(e.env(), "LOG_LEVEL=info"), "run")
	var lastB *testproc.Proc
	e.waitReady(a, 30*time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			lost, dups, _ := out.summary(n)
			if gi := e.kc.GroupInfo("enricher"); gi != nil {
				t.Logf("group: state %s, generation %d", gi.State, gi.Epoch)
				for _, m := range gi.Members {
					t.Logf("  member %s: %v", m.MemberID, m.Assignment)
				}
			}
			if lastB != nil {
				t.Logf("last second instance:\n%s", testproc.Tail(lastB.Output(), 40))
			}
			t.Logf("%d lost (first %v), %d duplicates; instance a:\n%s", len(lost), lost[:min(10, len(lost))], dups, testproc.Tail(a.Output(), 40))
		}
	})
	bAddr := testproc.FreeAddr(t)
	second := append(e.env(), "HTTP_ADDR="+bAddr, "DATA_DIR="+t.TempDir())
	rng := rand.New(rand.NewPCG(rand.Uint64(), 5))
	for k := 0; k < rounds; k++ {
		out.epoch.Store(int64(k))
		b := testproc.Start(t, append(second, "LOG_LEVEL=info"), "run")
		lastB = b
		// It leaves once it took part (see TestFaultKill9Backlog on kfake
		// and members killed while they join).
		waitGeneration(t, b, bAddr)
		// Let both write some more.
		target := out.total.Load() + 500 + int64(rng.IntN(1500))
		testkafka.Eventually(t, 60*time.Second, "the output to grow with two instances", func() bool {
			if a.Exited() || b.Exited() {
				t.Fatalf("an instance exited:\n%s\n%s", testproc.Tail(a.Output(), 20), testproc.Tail(b.Output(), 20))
			}
			ep.check(t)
			return out.total.Load() >= target || ep.finished()
		})
		if k%2 == 1 {
			b.Kill()
		} else {
			b.Signal(syscall.SIGTERM)
			if code, ok := b.Wait(20 * time.Second); !ok || code != 0 {
				t.Fatalf("round %d: second instance after SIGTERM: exited=%v code=%d\n%s", k, ok, code, testproc.Tail(b.Output(), 30))
			}
		}
	}
	out.epoch.Store(rounds)
	select {
	case <-ep.done:
	case <-time.After(120 * time.Second):
		t.Fatal("producer did not finish")
	}
	ep.check(t)
	testkafka.Eventually(t, 60*time.Second, "every event to come out", func() bool {
		if a.Exited() {
			t.Fatalf("enricher exited:\n%s", testproc.Tail(a.Output(), 30))
		}
		return out.unique.Load() >= n
	})
	e.waitIdle(a)
	a.Signal(syscall.SIGTERM)
	if code, ok := a.Wait(15 * time.Second); !ok || code != 0 {
		t.Fatalf("after SIGTERM: exited=%v code=%d\n%s", ok, code, testproc.Tail(a.Output(), 30))
	}
	lost, dups, _ := out.summary(n)
	t.Logf("rebalances under load: %d joins and leaves (half by SIGKILL) events=%d lost=%d duplicates=%d output records=%d",
		rounds, n, len(lost), dups, out.total.Load())
	if len(lost) > 0 {
		t.Fatalf("%d events lost, first %v", len(lost), lost[:min(10, len(lost))])
	}
	if dups > 0 {
		out.mu.Lock()
		t.Errorf("%d duplicates (per round: %v); want 0", dups, out.dups)
		out.mu.Unlock()
	}
}
