package httpapi

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/thmanyah/enricher/store"
)

// overviewAnswer is /debug/overview as a client reads it.
type overviewAnswer struct {
	Ready       bool   `json:"ready"`
	Reason      string `json:"reason"`
	ContentRows int    `json:"content_rows"`
	Content     []struct {
		Topic     string `json:"topic"`
		Partition int    `json:"partition"`
		Lag       int64  `json:"lag"`
	} `json:"content"`
	Engagement []struct {
		Topic string `json:"topic"`
		Lag   int64  `json:"lag"`
	} `json:"engagement"`
	Counters struct {
		In, Out, DLQ, Held float64
		ContentDLQ         float64 `json:"content_dlq"`
		JoinHits           float64 `json:"join_hits"`
		JoinMisses         float64 `json:"join_misses"`
	} `json:"counters"`
	Latency struct {
		P50    *float64 `json:"p50_seconds"`
		P99    *float64 `json:"p99_seconds"`
		Count  uint64   `json:"count"`
		Method string   `json:"method"`
	} `json:"latency"`
	Errors []ErrorEntry `json:"errors"`
}

// registry holds metrics under the enricher's and the content view's names,
// as the service registers them, with known values.
func registry(t *testing.T) (*prometheus.Registry, prometheus.Histogram) {
	t.Helper()
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricEvents}, []string{"topic", "result"})
	cdcRecs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricCDCRecords}, []string{"result"})
	held := prometheus.NewGauge(prometheus.GaugeOpts{Name: metricHeld})
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricLatency, Buckets: prometheus.ExponentialBucketsRange(0.001, 30, 40)})
	reg.MustRegister(events, cdcRecs, held, lat)
	for _, c := range []struct {
		topic, result string
		n             float64
	}{
		{"a", "enriched", 10}, {"b", "enriched", 5}, {"a", "joined_after_hold", 2},
		{"a", "miss", 3}, {"b", "miss_after_hold", 1}, {"a", "no_content_id", 4},
		{"a", "dlq", 6}, {"a", "skipped", 7}, {"a", "already_written", 8},
	} {
		events.WithLabelValues(c.topic, c.result).Add(c.n)
	}
	cdcRecs.WithLabelValues("applied").Add(100)
	cdcRecs.WithLabelValues("dlq").Add(9)
	held.Set(11)
	return reg, lat
}

func TestOverview(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg, lat := registry(t)
	ring := NewErrRing(50)
	cfg := Config{View: st, Tracker: tracker{ready: true}, Gatherer: reg, Errors: ring,
		Stats: func() map[string]any {
			return map[string]any{"engagement": []map[string]any{{"topic": "ev", "partition": 0, "lag": 3}}}
		}}
	read := func(cfg Config) overviewAnswer {
		t.Helper()
		h, err := NewHandler(cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		code, body := get(t, srv, "/debug/overview")
		if code != 200 {
			t.Fatalf("/debug/overview: got %d %s, want 200", code, body)
		}
		var o overviewAnswer
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			t.Fatalf("/debug/overview: %v in %s", err, body)
		}
		return o
	}

	t.Run("counters", func(t *testing.T) {
		o := read(cfg)
		c := o.Counters
		for _, tc := range []struct {
			name      string
			got, want float64
		}{
			{"in: every outcome", c.In, 46}, {"out: hits, misses and events without content", c.Out, 25},
			{"dlq", c.DLQ, 6}, {"content_dlq", c.ContentDLQ, 9}, {"join_hits", c.JoinHits, 17},
			{"join_misses", c.JoinMisses, 4}, {"held", c.Held, 11},
		} {
			if tc.got != tc.want {
				t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
			}
		}
		if !o.Ready || o.Reason != "" {
			t.Errorf("ready: got %v %q, want true and no reason", o.Ready, o.Reason)
		}
		if len(o.Content) != 1 || o.Content[0].Lag != 2 || len(o.Engagement) != 1 || o.Engagement[0].Lag != 3 {
			t.Errorf("lag: got content %+v engagement %+v, want the tracker's and Stats' partitions", o.Content, o.Engagement)
		}
	})

	t.Run("latency", func(t *testing.T) {
		if o := read(cfg); o.Latency.P50 != nil || o.Latency.P99 != nil || o.Latency.Count != 0 {
			t.Errorf("nothing observed: got p50 %v p99 %v, want null", o.Latency.P50, o.Latency.P99)
		}
		// 98 events at 10 ms and 2 at 5 s: p50 in 10 ms's bucket, p99 in 5 s's.
		for range 98 {
			lat.Observe(0.010)
		}
		lat.Observe(5)
		lat.Observe(5)
		o := read(cfg)
		if o.Latency.Count != 100 || o.Latency.P50 == nil || o.Latency.P99 == nil {
			t.Fatalf("got %+v, want 100 events with p50 and p99", o.Latency)
		}
		// Buckets grow ~30% each: an estimate lies within its bucket.
		if p := *o.Latency.P50; p < 0.010/1.3 || p > 0.010*1.3 {
			t.Errorf("p50: got %v s, want about 0.010", p)
		}
		if p := *o.Latency.P99; p < 5/1.3 || p > 5*1.3 {
			t.Errorf("p99: got %v s, want about 5", p)
		}
		if o.Latency.Method == "" {
			t.Error("latency: no method; the console says how it is estimated")
		}
	})

	t.Run("not ready says why", func(t *testing.T) {
		c := cfg
		c.Tracker = tracker{ready: false, unreachable: errors.New("kafka unreachable at x:1")}
		if o := read(c); o.Ready || o.Reason != "kafka unreachable at x:1" {
			t.Errorf("got %v %q, want not ready and the tracker's reason", o.Ready, o.Reason)
		}
		c.Tracker = tracker{ready: true}
		c.Blocked = func() string { return "schema registry: registering x" }
		if o := read(c); o.Ready || o.Reason != "schema registry: registering x" {
			t.Errorf("got %v %q, want not ready and Blocked's reason", o.Ready, o.Reason)
		}
	})

	t.Run("last errors from the logger", func(t *testing.T) {
		log := zap.New(zapcore.NewTee(zapcore.NewNopCore(), ring.Core())).Named("svc")
		log.Warn("not kept")
		log.Error("first", zap.Int("n", 1))
		log.With(zap.String("topic", "t")).Error("second", zap.Error(errors.New("boom")))
		o := read(cfg)
		if len(o.Errors) != 2 {
			t.Fatalf("errors: got %+v, want the two Error entries", o.Errors)
		}
		if e := o.Errors[0]; e.Message != "second" || e.Logger != "svc" || e.Fields["topic"] != "t" || e.Fields["error"] != "boom" {
			t.Errorf("newest: got %+v, want second with topic t and error boom", e)
		}
		if o.Errors[1].Message != "first" {
			t.Errorf("oldest: got %q, want first", o.Errors[1].Message)
		}
	})

	t.Run("without a ring or stats", func(t *testing.T) {
		o := read(Config{View: st, Tracker: tracker{ready: true}, Gatherer: prometheus.NewRegistry()})
		if o.Errors == nil || o.Engagement == nil || o.Counters.In != 0 {
			t.Errorf("got errors %v engagement %v, want empty lists and zero counters", o.Errors, o.Engagement)
		}
	})
}
