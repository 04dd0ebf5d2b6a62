package httpapi

import (
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// Metric names the overview reads back from the Gatherer (enricher/metrics.go, cdc/metrics.go).
const (
	metricEvents     = "enricher_events_total"
	metricHeld       = "enricher_held_events"
	metricLatency    = "enricher_event_latency_seconds"
	metricCDCRecords = "enricher_cdc_records_total"
)

// counters are totals since start; the console turns two readings into rates.
type counters struct {
	In         float64 `json:"in"`          // engagement records read, every outcome
	Out        float64 `json:"out"`         // enriched records written (hits and misses)
	DLQ        float64 `json:"dlq"`         // engagement records dead-lettered
	ContentDLQ float64 `json:"content_dlq"` // content records dead-lettered
	JoinHits   float64 `json:"join_hits"`   // enriched, joined_after_hold
	JoinMisses float64 `json:"join_misses"` // miss, miss_after_hold
	Held       float64 `json:"held"`        // events held for late content now (a gauge)
	// ByResult is enricher_events_total summed over topics.
	ByResult map[string]float64 `json:"by_result"`
}

type overviewJSON struct {
	Time        time.Time    `json:"time"`
	Ready       bool         `json:"ready"`
	Reason      string       `json:"reason,omitempty"`
	ContentRows int          `json:"content_rows"`
	Content     any          `json:"content"`    // the view's position per content partition
	Engagement  any          `json:"engagement"` // the group's position per engagement partition
	Counters    counters     `json:"counters"`
	Latency     latencyJSON  `json:"latency"`
	Errors      []ErrorEntry `json:"errors"`
}

// readiness is /readyz's answer: ready, or why not.
func (h *handler) readiness() (bool, string) {
	if !h.Tracker.Ready() {
		if err := h.Tracker.Unreachable(); err != nil {
			return false, err.Error()
		}
		return false, "content view catching up"
	}
	if h.Blocked != nil {
		if reason := h.Blocked(); reason != "" {
			return false, reason
		}
	}
	return true, ""
}

// overview is everything the console's first page shows, in one answer, so
// a poll every second costs one request.
func (h *handler) overview(w http.ResponseWriter, _ *http.Request) {
	out := overviewJSON{Time: time.Now().UTC(), ContentRows: h.View.Len(), Content: h.Tracker.Status(),
		Engagement: []any{}, Errors: h.Errors.Entries()}
	out.Ready, out.Reason = h.readiness()
	if h.Stats != nil {
		if e, ok := h.Stats()["engagement"]; ok && e != nil {
			out.Engagement = e
		}
	}
	// Gather returns what it could alongside an error: show that, log the rest.
	mfs, err := h.Gatherer.Gather()
	if err != nil {
		h.Logger.Warn("debug overview: gather metrics", zap.Error(err))
	}
	byName := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	out.Counters = readCounters(byName)
	out.Latency = h.latency.read(out.Time, byName)
	writeJSON(w, http.StatusOK, out)
}

func readCounters(mfs map[string]*dto.MetricFamily) counters {
	c := counters{ByResult: map[string]float64{}}
	for _, m := range mfs[metricEvents].GetMetric() {
		v := m.GetCounter().GetValue()
		result := label(m, "result")
		c.ByResult[result] += v
		c.In += v
		switch result {
		case "enriched", "joined_after_hold":
			c.JoinHits += v
			c.Out += v
		case "miss", "miss_after_hold":
			c.JoinMisses += v
			c.Out += v
		case "no_content_id":
			c.Out += v
		case "dlq":
			c.DLQ += v
		}
	}
	for _, m := range mfs[metricCDCRecords].GetMetric() {
		if label(m, "result") == "dlq" {
			c.ContentDLQ += m.GetCounter().GetValue()
		}
	}
	for _, m := range mfs[metricHeld].GetMetric() {
		c.Held += m.GetGauge().GetValue()
	}
	return c
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
