package main

// Crash, fault and hostile-input tests of `enricher run` as a real subprocess:
// nothing lost, nothing twice. `make test-faults` runs them (-run Fault).

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testproc"
)

// TestMain removes the binary testproc built, if any.
func TestMain(m *testing.M) {
	code := m.Run()
	testproc.RemoveBinary()
	os.Exit(code)
}

// faultEnv is a kfake cluster, a schema registry, a content model and the
// environment of the enricher subprocess.
type faultEnv struct {
	t       *testing.T
	kc      *testkafka.Cluster
	reg     *testRegistry
	gen     *contentGen
	httpAdr string
	dataDir string
	out     *outputTally
}

func newFaultEnv(t *testing.T, opts ...kfake.Opt) *faultEnv {
	if os.Getenv("ENRICHER_FAULT_TESTS") != "1" {
		t.Skip("fault tests run the binary as a subprocess for minutes; `make test-faults` runs them (ENRICHER_FAULT_TESTS=1)")
	}
	testproc.Binary(t) // build before any clock starts
	kc := testkafka.New(t, opts...)
	shortenGroupTimeouts(kc.Cluster)
	kc.Topic(contentTopic, 3, map[string]string{"cleanup.policy": "compact"})
	kc.Topic(eventsTopic, 3, nil)
	kc.Topic(backfillTopic, 2, nil)
	kc.Topic(outputTopic, 3, nil)
	kc.Topic("enricher.dlq", 1, nil)
	return &faultEnv{t: t, kc: kc, reg: newTestRegistry(t), gen: newContentGen(t, rand.Uint64()),
		httpAdr: testproc.FreeAddr(t), dataDir: t.TempDir()}
}

// shortenGroupTimeouts rewrites the subprocess's JoinGroup timeouts (kafka-go
// defaults: 30s session, 30s rebalance) as groupTimings does in process, so a
// SIGKILLed member is evicted from the group in ~3s instead of ~30s.
func shortenGroupTimeouts(c *kfake.Cluster) {
	c.ControlKey(kmsg.JoinGroup.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if r, ok := req.(*kmsg.JoinGroupRequest); ok {
			r.SessionTimeoutMillis = 6000
			r.RebalanceTimeoutMillis = 3000
		}
		return nil, nil, false
	})
}

func (e *faultEnv) env() []string {
	return []string{
		"KAFKA_BROKERS=" + e.kc.Addrs()[0], "DATA_DIR=" + e.dataDir, "HTTP_ADDR=" + e.httpAdr,
		"SCHEMA_REGISTRY_URL=" + e.reg.URL(), "JOIN_WAIT=1s", "LOG_LEVEL=warn",
		"CONTENT_TOPIC=" + contentTopic, "EVENTS_TOPICS=" + eventsTopic + "," + backfillTopic,
		"OUTPUT_TOPIC=" + outputTopic, "DLQ_TOPIC=enricher.dlq", "CONSUMER_GROUP=enricher",
	}
}

func (e *faultEnv) start() *testproc.Proc {
	return testproc.Start(e.t, e.env(), "run")
}

// waitReady waits for /readyz 200; it fails the test if the process exits.
func (e *faultEnv) waitReady(p *testproc.Proc, d time.Duration) {
	e.t.Helper()
	if !p.WaitHTTP(e.httpAdr, "/readyz", 200, d) {
		code, _ := p.Wait(0)
		e.t.Fatalf("enricher exited with %d before it was ready:\n%s", code, testproc.Tail(p.Output(), 30))
	}
}

// assertView compares the subprocess's /debug/content with the model.
func (e *faultEnv) assertView() {
	e.t.Helper()
	e.gen.assertView(&testMain{Main: &Main{listener: addrListener(e.httpAdr)}, t: e.t})
}

// produceContent produces n content changes synchronously.
func (e *faultEnv) produceContent(n int) {
	e.t.Helper()
	e.kc.Produce(e.gen.next(n)...)
}

// waitViewCaughtUp waits until the view has applied every content record
// produced so far (the model's rows at their offsets, by /debug/content).
func (e *faultEnv) waitViewCaughtUp(p *testproc.Proc, d time.Duration) {
	e.t.Helper()
	// A restart reads the end offsets at start-up and is ready only once it
	// reached them, so ready-after-produce means caught up; a running process
	// is polled through /debug/stats instead.
	want := len(e.gen.model)
	tm := &testMain{Main: &Main{listener: addrListener(e.httpAdr)}, t: e.t}
	testkafka.Eventually(e.t, d, "the view to hold the model's rows", func() bool {
		if p.Exited() {
			e.t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
		}
		var stats struct {
			Rows int `json:"content_rows"`
		}
		tm.getJSON("/debug/stats", &stats)
		return stats.Rows == want
	})
}

// addrListener is a net.Listener that only knows its address: enough for
// testMain.get to reach a subprocess's HTTP server.
type addrListener string

func (a addrListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (a addrListener) Close() error              { return nil }
func (a addrListener) Addr() net.Addr {
	ap, err := net.ResolveTCPAddr("tcp", string(a))
	if err != nil {
		panic(err)
	}
	return ap
}

// outputTally reads processed_engagements from the start, counting records
// per key; duplicates are attributed to the epoch (restart) they arrived in.
type outputTally struct {
	mu     sync.Mutex
	count  map[string]int
	dups   map[int]int
	total  atomic.Int64
	unique atomic.Int64
	epoch  atomic.Int64
}

func (e *faultEnv) tally() *outputTally {
	o := &outputTally{count: map[string]int{}, dups: map[int]int{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.kc.Addrs()...), kgo.ConsumeTopics(outputTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				o.mu.Lock()
				k := string(r.Key)
				o.count[k]++
				if o.count[k] > 1 {
					o.dups[int(o.epoch.Load())]++
				} else {
					o.unique.Add(1)
				}
				o.mu.Unlock()
				o.total.Add(1)
			})
		}
	}()
	e.t.Cleanup(func() { cancel(); <-done; cl.Close() })
	e.out = o
	return o
}

// summary returns events lost among 0..n-1, total duplicates and the largest
// number of duplicates in one epoch.
func (o *outputTally) summary(n int) (lost []int, dups, maxDups int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := 0; i < n; i++ {
		c := o.count[strconv.Itoa(i)]
		if c == 0 {
			lost = append(lost, i)
		}
		dups += max(c-1, 0)
	}
	for _, d := range o.dups {
		maxDups = max(maxDups, d)
	}
	return lost, dups, maxDups
}

// eventProducer produces events 0..n-1 (plain JSON, content from ids, some on
// the backfill topic) at about rate per second; done is closed at the end.
type eventProducer struct {
	sent atomic.Int64
	done chan struct{}
	err  atomic.Pointer[error]
}

func (e *faultEnv) produceEvents(n, rate int, ids []uuid.UUID) *eventProducer {
	ep := &eventProducer{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(func() { cancel(); <-ep.done })
	const chunk = 50
	go func() {
		defer close(ep.done)
		tick := time.NewTicker(time.Second * chunk / time.Duration(rate))
		defer tick.Stop()
		rng := rand.New(rand.NewPCG(7, 7))
		for i := 0; i < n; i += chunk {
			var recs []*kgo.Record
			for id := i; id < min(i+chunk, n); id++ {
				c := ids[rng.IntN(len(ids))]
				topic, part := eventsTopic, int32(id%3)
				if id%5 == 4 {
					topic, part = backfillTopic, int32(id%2)
				}
				recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Key: []byte(strconv.Itoa(id)),
					Value: plainEvent(int64(id), &c, time.Now(), i32(int32(rng.IntN(3_600_000))))})
			}
			pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
			err := e.kc.Client.ProduceSync(pctx, recs...).FirstErr()
			pcancel()
			if err != nil {
				ep.err.Store(&err)
				return
			}
			ep.sent.Add(int64(len(recs)))
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return ep
}

func (ep *eventProducer) finished() bool {
	select {
	case <-ep.done:
		return true
	default:
		return false
	}
}

func (ep *eventProducer) check(t *testing.T) {
	t.Helper()
	if p := ep.err.Load(); p != nil {
		t.Fatalf("produce events: %v", *p)
	}
}

// waitProgress waits until the output grew to target, or everything sent is
// out; it fails the test if p exits.
func (e *faultEnv) waitProgress(p *testproc.Proc, ep *eventProducer, n int, target int64, d time.Duration) {
	e.t.Helper()
	testkafka.Eventually(e.t, d, fmt.Sprintf("output to reach %d records", target), func() bool {
		if p.Exited() {
			code, _ := p.Wait(0)
			e.t.Fatalf("enricher exited with %d:\n%s", code, testproc.Tail(p.Output(), 30))
		}
		ep.check(e.t)
		return e.out.total.Load() >= target || (ep.finished() && e.out.unique.Load() >= int64(n))
	})
}

// TestFaultKill9UnderLoad SIGKILLs `enricher run` at random moments while
// events stream in, restarts it each time, and checks that every event came
// out exactly once and that the view equals the source.
func TestFaultKill9UnderLoad(t *testing.T) {
	e := newFaultEnv(t)
	e.produceContent(400)
	out := e.tally()
	const n, kills = 20000, 20
	ep := e.produceEvents(n, 400, e.gen.ids)

	rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
	var downtime []time.Duration
	for k := 0; k < kills; k++ {
		out.epoch.Store(int64(k))
		p := e.start()
		base := out.total.Load()
		e.waitProgress(p, ep, n, base+1+int64(rng.IntN(400)), 60*time.Second)
		downtime = append(downtime, time.Since(p.Start))
		// A random moment (test input): at once, while the batch just seen is
		// probably not committed yet, or up to 300ms later, in a later batch.
		if k%2 == 1 {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		}
		p.Kill()
		// Content keeps changing while the service is down, now and then.
		if k%4 == 0 {
			e.produceContent(25)
		}
	}
	out.epoch.Store(kills)
	p := e.start()
	e.waitReady(p, 30*time.Second)
	select {
	case <-ep.done:
	case <-time.After(90 * time.Second):
		t.Fatal("producer did not finish")
	}
	ep.check(t)
	testkafka.Eventually(t, 60*time.Second, "every event to come out", func() bool {
		if p.Exited() {
			t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
		}
		return out.unique.Load() >= n
	})
	e.waitViewCaughtUp(p, 30*time.Second)
	e.assertView()
	p.Signal(syscall.SIGTERM)
	if code, ok := p.Wait(15 * time.Second); !ok || code != 0 {
		t.Fatalf("after SIGTERM: exited=%v code=%d\n%s", ok, code, testproc.Tail(p.Output(), 30))
	}
	lost, dups, maxDups := out.summary(n)
	out.mu.Lock()
	withDups := len(out.dups)
	out.mu.Unlock()
	var slowest time.Duration
	for _, d := range downtime {
		slowest = max(slowest, d)
	}
	t.Logf("kill -9 summary: kills=%d events=%d lost=%d duplicates=%d (%.1f per kill, max %d in one restart, %d restarts with any) output records=%d; start-to-kill max %v; content rows %d",
		kills, n, len(lost), dups, float64(dups)/kills, maxDups, withDups, out.total.Load(), slowest.Round(time.Millisecond), len(e.gen.model))
	if len(lost) > 0 {
		t.Fatalf("%d events lost, first %v", len(lost), lost[:min(10, len(lost))])
	}
	// Exactly-once: a restart skips what its predecessor wrote but did not commit.
	if dups > 0 {
		out.mu.Lock()
		t.Errorf("%d duplicates (per restart: %v); want 0", dups, out.dups)
		out.mu.Unlock()
	}
}

// TestFaultKill9DuringViewLoad SIGKILLs the service while it loads a large
// content backlog, produces more content while it is down, and checks the
// view after the last restart.
func TestFaultKill9DuringViewLoad(t *testing.T) {
	e := newFaultEnv(t)
	e.produceContent(20000)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
	const kills = 10
	midLoad, lastRows := 0, 0
	for k := 0; k < kills; k++ {
		p := e.start()
		if k%2 == 0 {
			// Kill once the load made some progress, usually before the end.
			target := lastRows + 1 + rng.IntN(1500)
			testkafka.Eventually(t, 60*time.Second, "the view to load more rows", func() bool {
				if p.Exited() {
					t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
				}
				rows, ready := e.probe()
				return rows >= target || ready
			})
		} else {
			// Not before the HTTP server answers: the data dir is open by then.
			// A kill while Badger opens it is TestFaultKill9DuringStartup (a known bug).
			if !p.WaitHTTP(e.httpAdr, "/healthz", http.StatusOK, 30*time.Second) {
				t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
			}
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond) // a random moment: test input
		}
		rows, ready := e.probe()
		p.Kill()
		lastRows = max(lastRows, rows)
		if !ready {
			midLoad++
		}
		t.Logf("kill %d: %d rows in the view, ready=%v", k, rows, ready)
		e.produceContent(300) // arrives while the service is down
	}
	p := e.start()
	e.waitReady(p, 60*time.Second)
	e.assertView()
	t.Logf("view load summary: %d kills (%d before the view was ready), %d content rows, %d ids", kills, midLoad, len(e.gen.model), len(e.gen.ids))
	if midLoad == 0 {
		t.Errorf("no kill landed before the view was ready: the test did not test the load")
	}
}

// probe returns the view's row count and readiness; -1, false while the
// HTTP server does not answer.
func (e *faultEnv) probe() (rows int, ready bool) {
	cl := &http.Client{Timeout: time.Second}
	res, err := cl.Get("http://" + e.httpAdr + "/debug/stats")
	if err != nil {
		return -1, false
	}
	var stats struct {
		Rows int `json:"content_rows"`
	}
	_ = json.NewDecoder(res.Body).Decode(&stats)
	res.Body.Close()
	res, err = cl.Get("http://" + e.httpAdr + "/readyz")
	if err != nil {
		return stats.Rows, false
	}
	res.Body.Close()
	return stats.Rows, res.StatusCode == http.StatusOK
}

// TestFaultSIGTERMUnderLoad stops the service with SIGTERM while events
// stream in: it must exit 0 within 15s each time, lose nothing and, as every
// stop was graceful, repeat nothing.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	e := newFaultEnv(t)
	e.produceContent(300)
	out := e.tally()
	const n, stops = 10000, 6
	ep := e.produceEvents(n, 1000, e.gen.ids)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 3))
	var drain []time.Duration
	for k := 0; k < stops; k++ {
		out.epoch.Store(int64(k))
		p := e.start()
		e.waitProgress(p, ep, n, out.total.Load()+1+int64(rng.IntN(1000)), 60*time.Second)
		t0 := time.Now()
		p.Signal(syscall.SIGTERM)
		code, ok := p.Wait(15 * time.Second)
		if !ok {
			t.Fatalf("stop %d: still running 15s after SIGTERM\n%s", k, testproc.Tail(p.Output(), 30))
		}
		if code != 0 {
			t.Fatalf("stop %d: exit code %d after SIGTERM\n%s", k, code, testproc.Tail(p.Output(), 30))
		}
		drain = append(drain, time.Since(t0))
	}
	out.epoch.Store(stops)
	p := e.start()
	<-ep.done
	ep.check(t)
	testkafka.Eventually(t, 60*time.Second, "every event to come out", func() bool {
		if p.Exited() {
			t.Fatalf("enricher exited:\n%s", testproc.Tail(p.Output(), 30))
		}
		return out.unique.Load() >= n
	})
	p.Signal(syscall.SIGTERM)
	if code, ok := p.Wait(15 * time.Second); !ok || code != 0 {
		t.Fatalf("final SIGTERM: exited=%v code=%d", ok, code)
	}
	lost, dups, _ := out.summary(n)
	var slowest time.Duration
	for _, d := range drain {
		slowest = max(slowest, d)
	}
	t.Logf("SIGTERM summary: stops=%d events=%d lost=%d duplicates=%d; slowest drain %v",
		stops, n, len(lost), dups, slowest.Round(time.Millisecond))
	if len(lost) > 0 {
		t.Fatalf("%d events lost, first %v", len(lost), lost[:min(10, len(lost))])
	}
	if dups > 0 {
		out.mu.Lock()
		t.Errorf("%d duplicates after graceful stops (per stop: %v)", dups, out.dups)
		out.mu.Unlock()
	}
}
