package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Throughput is one configuration's consumption of the loaded events.
type Throughput struct {
	EventsPerSec     float64 `json:"events_per_sec"`
	CPUSecPerMillion float64 `json:"cpu_sec_per_million_events"`
	// The bench process's CPU over the same window: with the in-process
	// broker, mostly the broker's work for this configuration.
	BrokerCPUSecPerMillion float64 `json:"broker_cpu_sec_per_million_events"`
	PeakRSSMB              float64 `json:"peak_rss_mb"`
	// Sampled peaks of the anonymous (heap, stacks) and file-backed
	// (Badger's mmapped tables and logs) parts of RSS, from /proc.
	AnonMB float64 `json:"peak_rss_anon_mb,omitempty"`
	FileMB float64 `json:"peak_rss_file_mb,omitempty"`
}

// Latency is the enricher's input-timestamp-to-ack latency at a fixed load.
type Latency struct {
	OfferedPerSec float64 `json:"offered_events_per_sec"`
	Seconds       float64 `json:"seconds"`
	Events        int64   `json:"events"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	// Stages are quantiles of the enricher's per-batch histograms over the
	// same window (records, or seconds).
	Stages []Stage `json:"stages,omitempty"`
}

// Round is one alternation of the passthrough and the enricher, events/s.
type Round struct {
	Passthrough float64 `json:"passthrough_events_per_sec"`
	Enricher    float64 `json:"enricher_events_per_sec"`
	Ratio       float64 `json:"ratio"`
}

// Stage is one histogram's quantiles, bucket-interpolated.
type Stage struct {
	Metric string  `json:"metric"`
	P50    float64 `json:"p50"`
	P99    float64 `json:"p99"`
}

// BigView is the scale step with more content rows.
type BigView struct {
	Rows     int     `json:"rows"`
	RestoreS float64 `json:"restore_s"`
	Throughput
}

// Target is one of the targets and whether the run met it.
type Target struct {
	Name  string  `json:"name"`
	Want  string  `json:"want"`
	Value float64 `json:"value"`
	Met   bool    `json:"met"`
}

// Results is what bench/results.json holds.
type Results struct {
	Date        string     `json:"date"`
	Machine     string     `json:"machine"`
	CPUs        int        `json:"cpus"`
	Go          string     `json:"go"`
	Broker      string     `json:"broker"`
	Content     int        `json:"content_rows"`
	Events      int        `json:"events"`
	Partitions  int        `json:"partitions"`
	Passthrough Throughput `json:"passthrough"`
	Enricher    Throughput `json:"enricher"`
	// Ratio is the median over Rounds of enricher / passthrough events/s.
	Ratio   float64 `json:"ratio"`
	Rounds  []Round `json:"rounds"`
	Latency Latency `json:"latency"`
	// EnricherStages are the per-batch histograms of the 100k-row enricher
	// over the throughput run.
	EnricherStages []Stage     `json:"enricher_stages,omitempty"`
	RestoreS       float64     `json:"restore_s"`
	WarmRestartS   float64     `json:"warm_restart_s"`
	TwoInstances   *Throughput `json:"two_instances,omitempty"`
	BigView        *BigView    `json:"big_view,omitempty"`
	// CPUSet is the CPUs this run was pinned to (--cpus); empty: unpinned.
	CPUSet []int `json:"cpu_set,omitempty"`
	// Scaling is one point per CPU set of a --cpus run, this one last.
	Scaling []ScalePoint `json:"scaling,omitempty"`
	Targets []Target     `json:"targets"`
}

// ScalePoint is one CPU set's run of a --cpus benchmark.
type ScalePoint struct {
	CPUs         int         `json:"cpus"`
	CPUSet       []int       `json:"cpu_set"`
	Passthrough  Throughput  `json:"passthrough"`
	Enricher     Throughput  `json:"enricher"`
	Ratio        float64     `json:"ratio"`
	Rounds       []Round     `json:"rounds"`
	P99Ms        float64     `json:"p99_ms"`
	TwoInstances *Throughput `json:"two_instances,omitempty"`
	BigView      *BigView    `json:"big_view,omitempty"`
}

func (r *Results) point() ScalePoint {
	return ScalePoint{CPUs: len(r.CPUSet), CPUSet: r.CPUSet, Passthrough: r.Passthrough, Enricher: r.Enricher, Ratio: r.Ratio,
		Rounds: r.Rounds, P99Ms: r.Latency.P99Ms, TwoInstances: r.TwoInstances, BigView: r.BigView}
}

func newResults(cfg Config) *Results {
	host, _ := os.Hostname()
	return &Results{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), CPUs: runtime.NumCPU(),
		Machine: fmt.Sprintf("%s, %s/%s, host %s", cpuModel(), runtime.GOOS, runtime.GOARCH, host),
		Go:      runtime.Version(), Broker: "external: " + strings.Join(cfg.Brokers, ","),
		Content: cfg.Content, Events: cfg.Events, Partitions: cfg.Partitions}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func (r *Results) finish() {
	if len(r.Rounds) == 0 && r.Passthrough.EventsPerSec > 0 {
		r.Rounds = []Round{{Passthrough: r.Passthrough.EventsPerSec, Enricher: r.Enricher.EventsPerSec}}
	}
	var ratios []float64
	for i := range r.Rounds {
		if r.Rounds[i].Passthrough > 0 {
			r.Rounds[i].Ratio = r.Rounds[i].Enricher / r.Rounds[i].Passthrough
			ratios = append(ratios, r.Rounds[i].Ratio)
		}
	}
	if len(ratios) > 0 {
		sort.Float64s(ratios)
		r.Ratio = ratios[len(ratios)/2]
		if len(ratios)%2 == 0 {
			r.Ratio = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
		}
	}
	if math.IsNaN(r.Latency.P50Ms) || math.IsNaN(r.Latency.P99Ms) {
		r.Latency.P50Ms, r.Latency.P99Ms = -1, -1 // no sample; JSON has no NaN
	}
	r.Targets = []Target{
		{"enricher / passthrough throughput (median)", ">= 0.85", r.Ratio, r.Ratio >= 0.85},
		{"enricher events/s", ">= 100000", r.Enricher.EventsPerSec, r.Enricher.EventsPerSec >= 100_000},
		{fmt.Sprintf("p99 latency at %.0f/s (ms)", r.Latency.OfferedPerSec), "<= 50", r.Latency.P99Ms, r.Latency.P99Ms >= 0 && r.Latency.P99Ms <= 50},
		{"warm restart to ready (s)", "<= 2", r.WarmRestartS, r.WarmRestartS <= 2},
		{fmt.Sprintf("restore of %d rows (s)", r.Content), "<= 3", r.RestoreS, r.RestoreS <= 3},
		{fmt.Sprintf("peak RSS at %d rows (MB)", r.Content), "<= 300", r.Enricher.PeakRSSMB, r.Enricher.PeakRSSMB <= 300},
	}
	if v := r.BigView; v != nil && r.Enricher.CPUSecPerMillion > 0 {
		x := v.CPUSecPerMillion / r.Enricher.CPUSecPerMillion
		r.Targets = append(r.Targets, Target{fmt.Sprintf("CPU per event, %d rows / %d rows", v.Rows, r.Content), "<= 1.3", x, x <= 1.3})
	}
	if len(r.Scaling) > 1 {
		lo, hi := r.Scaling[0], r.Scaling[len(r.Scaling)-1]
		if lo.Enricher.CPUSecPerMillion > 0 {
			x := hi.Enricher.CPUSecPerMillion / lo.Enricher.CPUSecPerMillion
			r.Targets = append(r.Targets, Target{fmt.Sprintf("enricher CPU per event, %d CPUs / %d CPUs", hi.CPUs, lo.CPUs), "<= 1.3", x, x <= 1.3})
		}
		for _, p := range r.Scaling[:len(r.Scaling)-1] {
			r.Targets = append(r.Targets, Target{fmt.Sprintf("throughput ratio on %d CPUs (median)", p.CPUs), ">= 0.85", p.Ratio, p.Ratio >= 0.85})
		}
	}
}

// Markdown renders the results as the table of bench/RESULTS.md.
func (r *Results) Markdown(command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# `enricher bench` results\n\n%s on %s (%d CPUs), %s; broker: %s.\n\n", r.Date, r.Machine, r.CPUs, r.Go, r.Broker)
	if len(r.CPUSet) > 0 {
		fmt.Fprintf(&b, "Pinned (this process with the in-process broker, and every child) to %d CPUs %v; the tables below are that run's.\n\n", len(r.CPUSet), r.CPUSet)
	}
	fmt.Fprintf(&b, "Command: `%s`\n\n", command)
	fmt.Fprintf(&b, "%d content rows, %d events, %d partitions; each configuration consumes all events from an empty group. "+
		"Throughput runs from the first to the last output record; CPU is the child process's over that window; "+
		"peak RSS is the child's VmHWM just before it is stopped (the broker is not in it); anon / file are sampled peaks of its anonymous and file-backed RSS.\n\n", r.Content, r.Events, r.Partitions)
	b.WriteString("| configuration | events/s | CPU s / M events | broker CPU s / M | peak RSS MB | anon / file MB | restore s | notes |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	row := func(name string, t Throughput, restore float64, note string) {
		rs := "-"
		if restore > 0 {
			rs = fmt.Sprintf("%.2f", restore)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.0f | %.0f / %.0f | %s | %s |\n", name, t.EventsPerSec, t.CPUSecPerMillion, t.BrokerCPUSecPerMillion, t.PeakRSSMB, t.AnonMB, t.FileMB, rs, note)
	}
	row("passthrough (kafka-go Reader+Writer, no enrichment)", r.Passthrough, 0, "baseline")
	row(fmt.Sprintf("enricher, %d rows", r.Content), r.Enricher, r.RestoreS,
		fmt.Sprintf("ratio %.2f in this round; warm restart ready in %.2f s", r.Enricher.EventsPerSec/r.Passthrough.EventsPerSec, r.WarmRestartS))
	if t := r.TwoInstances; t != nil {
		row(fmt.Sprintf("2 enrichers in one group, %d rows", r.Content), *t, 0, "CPU summed; RSS, anon, file: the larger instance's")
	}
	if v := r.BigView; v != nil {
		row(fmt.Sprintf("enricher, %d rows", v.Rows), v.Throughput, v.RestoreS, "")
	}
	if len(r.Rounds) > 1 {
		fmt.Fprintf(&b, "\nThroughput ratio over %d alternating rounds (passthrough, then enricher from an empty group; the first round is the table's): **median %.2f**", len(r.Rounds), r.Ratio)
		for i, rd := range r.Rounds {
			fmt.Fprintf(&b, "%s %.2f (%.0f / %.0f)", map[bool]string{true: ";", false: " —"}[i > 0], rd.Ratio, rd.Enricher, rd.Passthrough)
		}
		b.WriteString(".\n")
	}
	scaling(&b, r.Scaling)
	l := r.Latency
	fmt.Fprintf(&b, "\nLatency (input Kafka timestamp to output ack, `enricher_event_latency_seconds`) at %.0f events/s offered for %.0f s (%d events): "+
		"**p50 %.1f ms, p99 %.1f ms**.\n\n", l.OfferedPerSec, l.Seconds, l.Events, l.P50Ms, l.P99Ms)
	stages(&b, "Per batch in that window", l.Stages)
	stages(&b, fmt.Sprintf("Per batch during the enricher's throughput run (%d rows)", r.Content), r.EnricherStages)
	b.WriteString("| target | want | measured | |\n|---|---|---:|---|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Want, num(t.Value), map[bool]string{true: "met", false: "**missed**"}[t.Met])
	}
	return b.String()
}

// scaling renders the --cpus table: one row per CPU set, CPU per event
// relative to the first (fewest CPUs).
func scaling(b *strings.Builder, ps []ScalePoint) {
	if len(ps) < 2 {
		return
	}
	b.WriteString("\nScaling (each row a whole run, everything pinned to the first n CPUs; ratio is the median of its rounds):\n\n")
	b.WriteString("| CPUs | passthrough events/s | passthrough CPU s / M | enricher events/s | enricher CPU s / M | × CPU / M of the first row | ratio | p99 ms | 2 instances events/s | big view CPU s / M (× one row's) |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	base := ps[0].Enricher.CPUSecPerMillion
	for _, p := range ps {
		two, big := "-", "-"
		if p.TwoInstances != nil {
			two = fmt.Sprintf("%.0f", p.TwoInstances.EventsPerSec)
		}
		if p.BigView != nil && p.Enricher.CPUSecPerMillion > 0 {
			big = fmt.Sprintf("%.2f (%.2f)", p.BigView.CPUSecPerMillion, p.BigView.CPUSecPerMillion/p.Enricher.CPUSecPerMillion)
		}
		fmt.Fprintf(b, "| %d | %.0f | %.2f | %.0f | %.2f | %.2f | %.2f | %.1f | %s | %s |\n", p.CPUs, p.Passthrough.EventsPerSec, p.Passthrough.CPUSecPerMillion,
			p.Enricher.EventsPerSec, p.Enricher.CPUSecPerMillion, p.Enricher.CPUSecPerMillion/base, p.Ratio, p.P99Ms, two, big)
	}
}

func stages(b *strings.Builder, title string, ss []Stage) {
	if len(ss) == 0 {
		return
	}
	fmt.Fprintf(b, "%s (bucket-interpolated):\n\n| histogram | p50 | p99 |\n|---|---:|---:|\n", title)
	for _, st := range ss {
		fmt.Fprintf(b, "| `%s` | %.4g | %.4g |\n", st.Metric, st.P50, st.P99)
	}
	b.WriteString("\n")
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// README markers between which UpdateREADME puts the latest table.
const (
	readmeBegin = "<!-- bench:begin (written by enricher bench --readme) -->"
	readmeEnd   = "<!-- bench:end -->"
)

// UpdateREADME replaces what lies between the bench markers of the file at
// path with the results, so the README shows the latest run.
func (r *Results) UpdateREADME(path, command string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q ... %q block", path, readmeBegin, readmeEnd)
	}
	md := r.Markdown(command)
	md = md[strings.IndexByte(md, '\n')+1:] // the README has its own heading
	s = s[:i+len(readmeBegin)] + "\n" + strings.TrimSpace(md) + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// notesMarker starts the hand-written part of RESULTS.md (analysis, before
// and after figures, profiles), which Write keeps when it rewrites the file.
const notesMarker = "<!-- notes: everything below this line is kept when enricher bench rewrites this file -->"

// Write writes results.json and RESULTS.md into dir, keeping the notes of an
// existing RESULTS.md.
func (r *Results) Write(dir, command string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(dir+"/results.json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	md := r.Markdown(command)
	if old, err := os.ReadFile(dir + "/RESULTS.md"); err == nil {
		if i := strings.Index(string(old), notesMarker); i >= 0 {
			md += "\n" + string(old[i:])
		}
	}
	return os.WriteFile(dir+"/RESULTS.md", []byte(md), 0o644)
}
