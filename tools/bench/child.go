package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/thmanyah/enricher/internal/promq"
)

// child is a process of the enricher binary: `enricher run` or the passthrough.
type child struct {
	name    string
	cmd     *exec.Cmd
	http    string // host:port of `run`'s HTTP server; empty for the passthrough
	started time.Time
	done    chan struct{}
	err     error
	stderr  *tailBuffer
	// window: the child profiles between SIGUSR1 and SIGUSR2 (ProfileDir).
	window bool

	// Peaks of RssAnon and RssFile sampled from /proc while measuring: the
	// split of the peak RSS between heap and file-backed (mmapped) pages.
	peakAnon, peakFile int64
	// hwm is the kernel's peak RSS of the process (VmHWM), read before it is
	// stopped. ru_maxrss is not used: Go starts children with vfork, so the
	// child's ru_maxrss includes the parent's RSS (the broker's records).
	hwm int64
}

// sampleMem updates the anon and file RSS peaks from /proc/<pid>/status.
func (c *child) sampleMem() {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "RssAnon":
			c.peakAnon = max(c.peakAnon, kb*1024)
		case "RssFile":
			c.peakFile = max(c.peakFile, kb*1024)
		case "VmHWM":
			c.hwm = max(c.hwm, kb*1024)
		}
	}
}

// startChild runs exe with args; its stderr is kept for error reports.
func startChild(exe, name, httpAddr string, args ...string) (*child, error) {
	c := &child{name: name, http: httpAddr, done: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10}}
	c.cmd = exec.Command(exe, args...)
	c.cmd.Stdout = io.Discard
	c.cmd.Stderr = c.stderr
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	return c, nil
}

// profileWindow starts (on) or ends the child's profile of the measured
// window, if it keeps one.
func (c *child) profileWindow(on bool) {
	if !c.window || c.exited() {
		return
	}
	sig := syscall.SIGUSR2
	if on {
		sig = syscall.SIGUSR1
	}
	_ = c.cmd.Process.Signal(sig)
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) failure() error {
	return fmt.Errorf("%s exited: %v; stderr tail:\n%s", c.name, c.err, c.stderr.String())
}

// stop sends SIGTERM, waits for the exit, and returns the peak RSS (bytes)
// until then and CPU seconds of the whole life of the process.
func (c *child) stop() (rss int64, cpu float64) {
	if !c.exited() {
		c.sampleMem()
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	rss = c.hwm
	if ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if rss == 0 { // no /proc
			rss = ru.Maxrss * 1024
		}
		cpu = tv(ru.Utime) + tv(ru.Stime)
	}
	return rss, cpu
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// cpu reads the process's user+system CPU seconds so far from /proc (NaN
// where there is no /proc).
func (c *child) cpu() float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/stat")
	if err != nil {
		return math.NaN()
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return math.NaN()
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// waitReady polls /readyz until 200 and returns the time since the start.
func (c *child) waitReady(ctx context.Context, limit time.Duration) (time.Duration, error) {
	end := time.Now().Add(limit)
	for {
		resp, err := http.Get("http://" + c.http + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(c.started), nil
			}
		}
		c.sampleMem()
		if c.exited() {
			return 0, c.failure()
		}
		if time.Now().After(end) {
			return 0, fmt.Errorf("%s not ready after %v", c.name, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// latencyHistogram is the enricher's end-to-end latency histogram.
const latencyHistogram = "enricher_event_latency_seconds"

// stageHistograms are the enricher's per-batch histograms reported beside
// the latency, to tell where it goes.
var stageHistograms = []string{
	"enricher_batch_records", "enricher_batch_age_seconds", "enricher_batch_seconds", "enricher_join_wait_seconds", "enricher_hold_seconds",
	"enricher_produce_seconds", "enricher_commit_seconds",
}

// histograms scrapes the named histograms from one read of /metrics; an
// absent one is nil.
func (c *child) histograms(ctx context.Context, names ...string) (map[string]*dto.Histogram, error) {
	mfs, err := promq.Scrape(ctx, "http://"+c.http+"/metrics")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*dto.Histogram, len(names))
	for _, n := range names {
		out[n] = promq.Histogram(mfs, n)
	}
	return out, nil
}

// stageQuantiles scrapes stageHistograms again and returns the quantiles of
// what they observed since before (nil: since the start).
func (c *child) stageQuantiles(ctx context.Context, before map[string]*dto.Histogram) ([]Stage, error) {
	after, err := c.histograms(ctx, stageHistograms...)
	if err != nil {
		return nil, err
	}
	var out []Stage
	for _, n := range stageHistograms {
		d := promq.Sub(after[n], before[n])
		if d.GetSampleCount() == 0 {
			continue
		}
		out = append(out, Stage{Metric: n, P50: promq.Quantile(d, 0.5), P99: promq.Quantile(d, 0.99)})
	}
	return out, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.buf.String() }

// selfCPU is this process's user and system CPU seconds so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return tv(ru.Utime) + tv(ru.Stime)
}
