package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/schemas"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/thmanyah/enricher/internal/testkafka"
)

// testMain runs a Main until the test ends or stop is called.
type testMain struct {
	*Main
	t        testing.TB
	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan error
	err      error
}

func startMain(t testing.TB, cfg RunConfig) *testMain {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	m, err := NewMain(cfg, log)
	if err != nil {
		t.Fatalf("NewMain: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tm := &testMain{Main: m, t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { tm.done <- m.Run(ctx) }()
	t.Cleanup(func() { _ = tm.stop() })
	return tm
}

// stop cancels Run as SIGTERM would, waits for it, and returns its error.
func (tm *testMain) stop() error {
	tm.stopOnce.Do(func() {
		tm.cancel()
		select {
		case tm.err = <-tm.done:
		case <-time.After(30 * time.Second):
			tm.err = fmt.Errorf("Run did not return within 30s of cancellation")
		}
		tm.Close()
	})
	return tm.err
}

func (tm *testMain) get(path string) (int, []byte) {
	tm.t.Helper()
	res, err := http.Get("http://" + tm.HTTPAddr() + path)
	if err != nil {
		tm.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tm.t.Fatalf("GET %s: read body: %v", path, err)
	}
	return res.StatusCode, b
}

func (tm *testMain) getJSON(path string, v any) int {
	tm.t.Helper()
	code, b := tm.get(path)
	if err := json.Unmarshal(b, v); err != nil {
		tm.t.Fatalf("GET %s: %d %q is not JSON: %v", path, code, b, err)
	}
	return code
}

func (tm *testMain) waitReady(deadline time.Duration) {
	tm.t.Helper()
	testkafka.Eventually(tm.t, deadline, "/readyz to answer 200", func() bool {
		code, _ := tm.get("/readyz")
		return code == http.StatusOK
	})
}

// counter sums a counter family over its label values matching want.
func counter(t testing.TB, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				sum += m.Counter.GetValue()
			} else if m.Gauge != nil {
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

// waitCounter waits for a counter to reach want. A batch's counters move
// after its produce returns, which can be after its records are readable, so a
// test that has read the output must still wait for them; counters only grow,
// so one that passes want never settles and the wait fails.
func waitCounter(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := counter(t, g, name, labels)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v: got %v, want %v", name, labels, n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testConfig(brokers []string, dataDir string) RunConfig {
	return RunConfig{
		Brokers:          brokers,
		ContentTopic:     "thmanyah.public.content",
		EventsTopics:     []string{"thmanyah.public.engagement_events", "engagement_events.backfill"},
		OutputTopic:      "processed_engagements",
		DLQTopic:         "enricher.dlq",
		Group:            "enricher",
		DataDir:          dataDir,
		HTTPAddr:         "127.0.0.1:0",
		JoinWait:         time.Second,
		JoinMode:         "asof",
		HistoryRetention: 720 * time.Hour,
		SourceHeaders:    true, // the tests trace outputs to their inputs
		ExactlyOnce:      true,
		LogLevel:         "warn",
	}
}

// testRegistry is an in-process Schema Registry holding the fixtures' four
// Debezium schemas at their ids; while down is set it answers 503, except
// for the output subject when allowOutput is set.
type testRegistry struct {
	*srfake.Registry
	down        atomic.Bool
	allowOutput atomic.Bool
}

func newTestRegistry(t testing.TB) *testRegistry {
	r := &testRegistry{Registry: srfake.New()}
	t.Cleanup(r.Close)
	for id, s := range map[int][2]string{
		dbztest.ContentKeyID: {"thmanyah.public.content-key", "content.key.avsc"}, dbztest.ContentValueID: {"thmanyah.public.content-value", "content.value.avsc"},
		3: {"thmanyah.public.engagement_events-key", "engagement_events.key.avsc"}, 4: {"thmanyah.public.engagement_events-value", "engagement_events.value.avsc"},
	} {
		r.SeedSchema(s[0], 1, id, sr.Schema{Schema: dbztest.AvroSchema(s[1])})
	}
	r.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if !r.down.Load() || (r.allowOutput.Load() && strings.HasPrefix(req.URL.Path, "/subjects/"+schemas.Subject)) {
			return false
		}
		http.Error(w, "registry down for the test", http.StatusServiceUnavailable)
		return true
	})
	return r
}

// onceEach counts the records per key and fails the test for a key in
// 0..n-1 that never came; it returns the number of duplicates.
func onceEach(t testing.TB, recs []*kgo.Record, n int) int {
	t.Helper()
	count := map[string]int{}
	for _, r := range recs {
		count[string(r.Key)]++
	}
	dups := 0
	for i := 0; i < n; i++ {
		c := count[strconv.Itoa(i)]
		if c == 0 {
			t.Fatalf("event %d: no output", i)
		}
		dups += c - 1
	}
	return dups
}
