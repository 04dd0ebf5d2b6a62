package httpapi

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestLatencyWindow drives the window with explicit reading times: each step
// observes some latencies, reads the overview's latency at its time, and
// checks which observations the window holds.
func TestLatencyWindow(t *testing.T) {
	reg := prometheus.NewRegistry()
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricLatency, Buckets: prometheus.ExponentialBucketsRange(0.001, 30, 40)})
	reg.MustRegister(lat)
	gather := func() map[string]*dto.MetricFamily {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			out[mf.GetName()] = mf
		}
		return out
	}
	w := newLatencyWindow(time.Minute, 10*time.Second)
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		at        time.Duration // after t0
		observe   float64       // seconds, observed n times before the reading
		n         int
		wantCount uint64  // in the window
		wantP50   float64 // about, in the window; 0: none
		wantSince uint64  // since start
		wantWin   float64 // window_seconds; 0: since start
	}{
		{"the first reading is since start", 0, 0.010, 10, 10, 0.010, 10, 0},
		{"the window starts at the first reading", 30 * time.Second, 5, 10, 10, 5, 20, 30},
		{"a reading within a step is not kept", 35 * time.Second, 5, 2, 12, 5, 22, 35},
		{"no reading a minute old yet: the oldest", 75 * time.Second, 0.1, 30, 42, 0.1, 52, 75},
		{"the newest reading a minute old", 100 * time.Second, 0.020, 100, 132, 0.020, 152, 70},
		{"after a quiet spell the window says how long", 10 * time.Minute, 0, 0, 0, 0, 152, 500},
		{"then the window is back to a minute", 10*time.Minute + 61*time.Second, 0.5, 7, 7, 0.5, 159, 61},
	} {
		for range tc.n {
			lat.Observe(tc.observe)
		}
		l := w.read(t0.Add(tc.at), gather())
		if l.Count != tc.wantCount || l.SinceStart.Count != tc.wantSince {
			t.Errorf("%s: counts: window %d since start %d, want %d and %d", tc.name, l.Count, l.SinceStart.Count, tc.wantCount, tc.wantSince)
		}
		switch {
		case tc.wantWin == 0 && l.WindowSeconds != nil:
			t.Errorf("%s: window %v s, want since start", tc.name, *l.WindowSeconds)
		case tc.wantWin != 0 && (l.WindowSeconds == nil || *l.WindowSeconds != tc.wantWin):
			t.Errorf("%s: window %v, want %v s", tc.name, l.WindowSeconds, tc.wantWin)
		}
		switch {
		case tc.wantP50 == 0 && l.P50 != nil:
			t.Errorf("%s: p50 %v, want null with nothing in the window", tc.name, *l.P50)
		case tc.wantP50 != 0 && (l.P50 == nil || *l.P50 < tc.wantP50/1.3 || *l.P50 > tc.wantP50*1.3):
			t.Errorf("%s: p50 %v, want about %v", tc.name, l.P50, tc.wantP50)
		}
		if l.Method == "" {
			t.Errorf("%s: no method", tc.name)
		}
	}
}
