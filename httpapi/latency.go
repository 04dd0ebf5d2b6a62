package httpapi

import (
	"math"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/thmanyah/enricher/internal/promq"
)

// Latency is read over a recent window: since start, a p99 hides a spike
// after an hour of traffic, and a past spike never leaves it.
const (
	latencySpan = time.Minute      // how far back the window reaches
	latencyStep = 10 * time.Second // how often a reading is kept
)

// latencyWindow turns the latency histogram, cumulative since start, into
// the last minute's: it keeps a reading of it every step and subtracts the
// newest reading at least span old (or the oldest, while none is). Readings
// are taken when /debug/overview is asked (the console polls it every few
// seconds), so the service runs no goroutine for it; after a quiet spell the
// window is longer than span, and the answer says how long it is.
type latencyWindow struct {
	span, step time.Duration

	mu       sync.Mutex
	readings []histReading // oldest first
}

type histReading struct {
	at time.Time
	h  *dto.Histogram
}

func newLatencyWindow(span, step time.Duration) *latencyWindow {
	return &latencyWindow{span: span, step: step}
}

// base records h, read at now, and returns the reading to subtract from it
// and when that was taken; nil when h is the first reading.
func (w *latencyWindow) base(now time.Time, h *dto.Histogram) (*dto.Histogram, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.readings)
	if n == 0 || now.Sub(w.readings[n-1].at) >= w.step {
		w.readings = append(w.readings, histReading{at: now, h: h})
	}
	for len(w.readings) >= 2 && !w.readings[1].at.After(now.Add(-w.span)) {
		w.readings = w.readings[1:]
	}
	if b := w.readings[0]; b.at.Before(now) {
		return b.h, b.at
	}
	return nil, time.Time{}
}

// latencyJSON is /debug/overview's latency: p50 and p99 in seconds (null
// when nothing was observed) over the window, and since start.
type latencyJSON struct {
	P50    *float64 `json:"p50_seconds"`
	P99    *float64 `json:"p99_seconds"`
	Count  uint64   `json:"count"`
	Method string   `json:"method"`
	// WindowSeconds is how far back P50, P99 and Count reach; null when
	// they are since start (the first reading).
	WindowSeconds *float64         `json:"window_seconds"`
	SinceStart    latencyQuantiles `json:"since_start"`
}

type latencyQuantiles struct {
	P50   *float64 `json:"p50_seconds"`
	P99   *float64 `json:"p99_seconds"`
	Count uint64   `json:"count"`
}

func quantiles(h *dto.Histogram) latencyQuantiles {
	q := latencyQuantiles{Count: h.GetSampleCount()}
	if v := promq.Quantile(h, 0.5); !math.IsNaN(v) {
		q.P50 = &v
	}
	if v := promq.Quantile(h, 0.99); !math.IsNaN(v) {
		q.P99 = &v
	}
	return q
}

func (w *latencyWindow) read(now time.Time, mfs map[string]*dto.MetricFamily) latencyJSON {
	hist := promq.Histogram(mfs, metricLatency)
	l := latencyJSON{SinceStart: quantiles(hist),
		Method: "estimated from the histogram's buckets by linear interpolation (as histogram_quantile)"}
	win := hist
	if before, at := w.base(now, hist); before != nil {
		if d := promq.Sub(hist, before); d != nil {
			win = d
			secs := now.Sub(at).Seconds()
			l.WindowSeconds = &secs
		}
	}
	q := quantiles(win)
	l.P50, l.P99, l.Count = q.P50, q.P99, q.Count
	if l.WindowSeconds == nil {
		l.Method += ", since start"
	} else {
		l.Method += ", over the last " + time.Duration(*l.WindowSeconds*float64(time.Second)).Round(time.Second).String()
	}
	return l
}
