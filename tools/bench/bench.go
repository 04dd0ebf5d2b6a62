// Package bench is the end-to-end benchmark of `enricher bench`: an
// in-process Kafka (kfake) or a given cluster, content rows and engagement
// events loaded into it, then a passthrough baseline and the real enricher
// run as child processes of the enricher binary on the same input, so their
// peak RSS and CPU are the child's alone and exclude the broker.
package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/promq"
)

// Config sizes and places a run, and says where its results go.
type Config struct {
	Exe        string   // the enricher binary its children run; empty: this process's binary
	Brokers    []string // empty: an in-process kfake cluster
	Content    int      // content rows loaded before the first phase
	Events     int      // events loaded, consumed by each phase from an empty group
	Partitions int      // of the events and content topics
	Rate       float64  // offered load of the latency phase, events/s
	LatencyFor time.Duration
	// ScaleContent is the row count of the scale step (rows are added to
	// reach it); 0 or not above Content skips that step.
	ScaleContent int
	SkipScale    bool
	// Rounds is how many times the passthrough and the enricher are run
	// alternately on the same input (the first round is the full phases);
	// the ratio reported is the median of the rounds'. Default 3.
	Rounds int
	// RunArgs and PassthroughArgs start the two children: RunArgs are
	// `enricher run`'s words before its flags, PassthroughArgs the hidden
	// passthrough command's.
	RunArgs, PassthroughArgs []string
	// CPUProfile, when set, is the file the first enricher child (the
	// 100k-row throughput and latency phases) writes a CPU profile to; it is
	// started with ProfiledRunArgs(the file's absolute path) instead of
	// RunArgs.
	CPUProfile string
	// ProfileDir, when set, receives a CPU profile of every enricher child
	// (<configuration>.pprof) that covers only its throughput window, from
	// the first output record to the last: restore and start-up excluded.
	ProfileDir string
	// ProfiledRunArgs returns the words that start a profiled enricher
	// child writing to file; with window, it profiles only between SIGUSR1
	// and SIGUSR2.
	ProfiledRunArgs func(file string, window bool) []string
	// BrokerCPUProfile, when set, is the file this process's CPU profile
	// (the in-process broker, loading, polling) is written to.
	BrokerCPUProfile string
	// CPUs, when set, runs the whole benchmark once per entry, this process
	// (the in-process broker) and its children pinned to the first n CPUs
	// (0: all), and adds a scaling table; the last entry's run is the
	// report's main one.
	CPUs []int
	// OutDir, when set, receives results.json and RESULTS.md; README, when
	// set, is a README whose bench block gets the results. Command is the
	// command line recorded with them.
	OutDir, README, Command string
	// Log receives the progress lines; nil: discarded.
	Log io.Writer
}

const (
	contentTopic = "bench.content"
	eventsTopic  = "bench.events"
	dlqTopic     = "bench.dlq"
)

type runner struct {
	cfg         Config
	profileArgs []string // start the first enricher child; nil: RunArgs
	profileDir  string   // absolute ProfileDir
	brokers     []string
	adm         *admin
	dir         string
	res         *Results
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Run runs the benchmark, prints its table to out, and writes the results
// where cfg says.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	if cfg.BrokerCPUProfile != "" {
		stop, err := StartCPUProfile(cfg.BrokerCPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := measureSets(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, res.Markdown(cfg.Command))
	if cfg.README != "" {
		if err := res.UpdateREADME(cfg.README, cfg.Command); err != nil {
			return err
		}
	}
	if cfg.OutDir == "" {
		return nil
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return err
	}
	return res.Write(cfg.OutDir, cfg.Command)
}

// measureSets runs Measure once, or once per CPU set of cfg.CPUs, pinned.
func measureSets(ctx context.Context, cfg Config) (*Results, error) {
	if len(cfg.CPUs) == 0 {
		return Measure(ctx, cfg)
	}
	var last *Results
	var points []ScalePoint
	profileDir := cfg.ProfileDir
	for _, n := range cfg.CPUs {
		cpus, restore, err := pinCPUs(n)
		if err != nil {
			return nil, err
		}
		c := cfg
		if profileDir != "" {
			c.ProfileDir = filepath.Join(profileDir, fmt.Sprintf("cpus-%d", len(cpus)))
		}
		fmt.Fprintf(orDiscard(cfg.Log), "%s  pinned to %d CPUs %v\n", time.Now().Format("15:04:05"), len(cpus), cpus)
		res, err := Measure(ctx, c)
		restore()
		if err != nil {
			return nil, fmt.Errorf("on %d CPUs: %w", len(cpus), err)
		}
		res.CPUSet = cpus
		points = append(points, res.point())
		last = res
	}
	last.Scaling = points
	last.finish()
	return last, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Measure runs the benchmark and returns its results.
func Measure(ctx context.Context, cfg Config) (*Results, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.Exe = exe
	}
	r := &runner{cfg: cfg, brokers: cfg.Brokers, res: newResults(cfg)}
	if cfg.CPUProfile != "" && cfg.ProfiledRunArgs != nil {
		abs, err := filepath.Abs(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		r.profileArgs = cfg.ProfiledRunArgs(abs, false)
	}
	if cfg.ProfileDir != "" {
		if cfg.ProfiledRunArgs == nil {
			return nil, fmt.Errorf("profile dir given without a way to start profiled children")
		}
		abs, err := filepath.Abs(cfg.ProfileDir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, err
		}
		r.profileDir = abs
	}
	if len(r.brokers) == 0 {
		kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, "127.0.0.1:0")
		}))
		if err != nil {
			return nil, fmt.Errorf("start in-process kafka: %w", err)
		}
		defer kc.Close()
		r.brokers = kc.ListenAddrs()
		r.res.Broker = "kfake (in-process)"
	}
	var err error
	if r.dir, err = os.MkdirTemp("", "enricher-bench-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.dir)
	r.adm = newAdmin(r.brokers)
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	if r.res.Passthrough, err = r.passthrough(ctx, 1); err != nil {
		return nil, fmt.Errorf("passthrough: %w", err)
	}
	if err := r.enricher(ctx); err != nil {
		return nil, fmt.Errorf("enricher: %w", err)
	}
	r.res.Rounds = []Round{{Passthrough: r.res.Passthrough.EventsPerSec, Enricher: r.res.Enricher.EventsPerSec}}
	for i := 2; i <= max(cfg.Rounds, 1); i++ {
		if err := r.round(ctx, i); err != nil {
			return nil, fmt.Errorf("round %d: %w", i, err)
		}
	}
	if !cfg.SkipScale {
		if err := r.twoInstances(ctx); err != nil {
			return nil, fmt.Errorf("two instances: %w", err)
		}
		if cfg.ScaleContent > cfg.Content {
			if err := r.bigView(ctx); err != nil {
				return nil, fmt.Errorf("%d content rows: %w", cfg.ScaleContent, err)
			}
		}
	}
	r.res.finish()
	return r.res, nil
}

func (r *runner) load(ctx context.Context) error {
	p := r.cfg.Partitions
	for _, t := range []kafka.TopicConfig{
		kafkax.Topic(contentTopic, p, "compact"), kafkax.Topic(eventsTopic, p, ""), kafkax.Topic(dlqTopic, 1, ""),
	} {
		if err := r.adm.create(ctx, t); err != nil {
			return err
		}
	}
	cl, err := newProducer(r.brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	start := time.Now()
	if err := loadContent(ctx, cl, contentTopic, 0, r.cfg.Content); err != nil {
		return fmt.Errorf("load content: %w", err)
	}
	r.logf("loaded %d content rows in %v", r.cfg.Content, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := loadEvents(ctx, cl, eventsTopic, 0, r.cfg.Events, r.cfg.Content); err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	r.logf("loaded %d events in %v (%d partitions)", r.cfg.Events, time.Since(start).Round(time.Millisecond), p)
	return nil
}

// throughput waits until topic holds want records and returns the rate from
// the first output record to the last one, the children's CPU seconds per
// million records in that window, and this process's (the in-process
// broker's, plus polling). Memory is for the caller to add (withMem).
func (r *runner) throughput(ctx context.Context, topic string, want int64, kids ...*child) (Throughput, error) {
	var t0 time.Time
	var n0 int64
	var cpu0, self0 float64
	limit := time.Now().Add(2*time.Minute + time.Duration(want/5000)*time.Second)
	for {
		n, err := r.adm.count(ctx, topic, r.cfg.Partitions)
		if err != nil {
			return Throughput{}, err
		}
		now := time.Now()
		if n > 0 && t0.IsZero() {
			t0, n0, self0 = now, n, selfCPU()
			for _, k := range kids {
				cpu0 += k.cpu()
				k.profileWindow(true)
			}
		}
		if n >= want && n > n0 {
			var cpu1 float64
			for _, k := range kids {
				cpu1 += k.cpu()
				k.profileWindow(false)
			}
			d := float64(n - n0)
			return Throughput{EventsPerSec: d / now.Sub(t0).Seconds(), CPUSecPerMillion: (cpu1 - cpu0) / d * 1e6,
				BrokerCPUSecPerMillion: (selfCPU() - self0) / d * 1e6}, nil
		}
		for _, k := range kids {
			k.sampleMem()
			if k.exited() {
				return Throughput{}, k.failure()
			}
		}
		if now.After(limit) {
			return Throughput{}, fmt.Errorf("%s has %d of %d records after the time limit", topic, n, want)
		}
		select {
		case <-ctx.Done():
			return Throughput{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitCount waits until topic holds want records.
func (r *runner) waitCount(ctx context.Context, topic string, want int64, kids ...*child) error {
	limit := time.Now().Add(2 * time.Minute)
	for {
		n, err := r.adm.count(ctx, topic, r.cfg.Partitions)
		if err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		for _, k := range kids {
			k.sampleMem()
			if k.exited() {
				return k.failure()
			}
		}
		if time.Now().After(limit) {
			return fmt.Errorf("%s has %d of %d records after the time limit", topic, n, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// round runs the passthrough and then a warm enricher again, each from an
// empty group, and records their rates.
func (r *runner) round(ctx context.Context, i int) error {
	pass, err := r.passthrough(ctx, i)
	if err != nil {
		return err
	}
	out := fmt.Sprintf("bench.out.enricher.%d", i)
	if err := r.adm.create(ctx, kafkax.Topic(out, r.cfg.Partitions, "")); err != nil {
		return err
	}
	defer r.adm.remove(ctx, out)
	c, err := r.startRun("enricher", fmt.Sprintf("enricher-round%d", i), filepath.Join(r.dir, "enricher"), fmt.Sprintf("bench-enricher-%d", i), out, false)
	if err != nil {
		return err
	}
	defer c.stop()
	if _, err := c.waitReady(ctx, 5*time.Minute); err != nil {
		return err
	}
	t, err := r.throughput(ctx, out, int64(r.cfg.Events), c)
	if err != nil {
		return err
	}
	r.res.Rounds = append(r.res.Rounds, Round{Passthrough: pass.EventsPerSec, Enricher: t.EventsPerSec})
	r.logf("round %d: passthrough %.0f, enricher %.0f events/s, ratio %.2f", i, pass.EventsPerSec, t.EventsPerSec, t.EventsPerSec/pass.EventsPerSec)
	return nil
}

func (r *runner) passthrough(ctx context.Context, round int) (Throughput, error) {
	out := fmt.Sprintf("bench.out.passthrough.%d", round)
	if err := r.adm.create(ctx, kafkax.Topic(out, r.cfg.Partitions, "")); err != nil {
		return Throughput{}, err
	}
	defer r.adm.remove(ctx, out)
	// Collect the garbage of loading (and of earlier phases) now, not while
	// the child is measured: the first passthrough paid for the load's.
	runtime.GC()
	args := append(append([]string{}, r.cfg.PassthroughArgs...), "--brokers", join(r.brokers),
		"--topics", eventsTopic, "--group", fmt.Sprintf("bench-passthrough-%d", round), "--output-topic", out)
	c, err := startChild(r.cfg.Exe, "passthrough", "", args...)
	if err != nil {
		return Throughput{}, err
	}
	t, err := r.throughput(ctx, out, int64(r.cfg.Events), c)
	rss, _ := c.stop()
	if err != nil {
		return Throughput{}, err
	}
	r.logf("passthrough: %.0f events/s, %.2f CPU s per million, peak RSS %.0f MB", t.EventsPerSec, t.CPUSecPerMillion, mb(rss))
	return t.withMem(rss, c), nil
}

// startRun starts `enricher run` on dataDir, consuming the events topic in
// group. slug names its profile in ProfileDir; profile asks for the whole-life
// profile of --cpuprofile (the first enricher child).
func (r *runner) startRun(name, slug, dataDir, group, out string, profile bool) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtime.GC() // as in passthrough
	words, window := r.cfg.RunArgs, false
	switch {
	case profile && r.profileArgs != nil:
		words = r.profileArgs
	case r.profileDir != "" && slug != "":
		words, window = r.cfg.ProfiledRunArgs(filepath.Join(r.profileDir, slug+".pprof"), true), true
	}
	args := append(append([]string{}, words...), "--brokers", join(r.brokers),
		"--content-topic", contentTopic, "--events-topics", eventsTopic, "--output-topic", out,
		"--dlq-topic", dlqTopic, "--group", group, "--data-dir", dataDir, "--http-addr", addr, "--log-level", "warn")
	c, err := startChild(r.cfg.Exe, name, addr, args...)
	if c != nil {
		c.window = window
	}
	return c, err
}

func (r *runner) enricher(ctx context.Context) error {
	out, dir := "bench.out.enricher", filepath.Join(r.dir, "enricher")
	if err := r.adm.create(ctx, kafkax.Topic(out, r.cfg.Partitions, "")); err != nil {
		return err
	}
	defer r.adm.remove(ctx, out)
	c, err := r.startRun("enricher", "enricher", dir, "bench-enricher", out, true)
	if err != nil {
		return err
	}
	defer c.stop()
	restore, err := c.waitReady(ctx, 5*time.Minute)
	if err != nil {
		return err
	}
	r.res.RestoreS = restore.Seconds()
	r.logf("enricher: view of %d rows restored from an empty data dir in %v", r.cfg.Content, restore.Round(time.Millisecond))
	t, err := r.throughput(ctx, out, int64(r.cfg.Events), c)
	if err != nil {
		return err
	}
	r.logf("enricher: %.0f events/s, %.2f CPU s per million (broker %.2f)", t.EventsPerSec, t.CPUSecPerMillion, t.BrokerCPUSecPerMillion)
	if r.res.EnricherStages, err = c.stageQuantiles(ctx, nil); err != nil {
		return err
	}
	for _, st := range r.res.EnricherStages {
		r.logf("  %s: p50 %.4g, p99 %.4g", st.Metric, st.P50, st.P99)
	}

	// Latency at a fixed offered load, the enricher caught up.
	// Let the backlog's aftermath (GC, Badger compaction) settle. The last
	// batch's latency is observed just after its output is acked: wait for
	// it, so it is not counted in the paced window.
	time.Sleep(2 * time.Second)
	var before *dto.Histogram
	for deadline := time.Now().Add(5 * time.Second); ; {
		hs, err := c.histograms(ctx, latencyHistogram)
		if err != nil {
			return err
		}
		if before = hs[latencyHistogram]; before.GetSampleCount() >= uint64(r.cfg.Events) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stagesBefore, err := c.histograms(ctx, stageHistograms...) // the backlog's batches are in them
	if err != nil {
		return err
	}
	cl, err := newProducer(r.brokers)
	if err != nil {
		return err
	}
	n, err := pace(ctx, cl, eventsTopic, int64(r.cfg.Events), r.cfg.Content, r.cfg.Rate, r.cfg.LatencyFor)
	cl.Close()
	if err != nil {
		return fmt.Errorf("paced producer: %w", err)
	}
	if err := r.waitCount(ctx, out, int64(r.cfg.Events)+n, c); err != nil {
		return err
	}
	hs, err := c.histograms(ctx, latencyHistogram)
	if err != nil {
		return err
	}
	d := promq.Sub(hs[latencyHistogram], before)
	if d == nil {
		return fmt.Errorf("latency histogram %s: missing, or its buckets changed", latencyHistogram)
	}
	r.res.Latency = Latency{OfferedPerSec: r.cfg.Rate, Events: n, Seconds: r.cfg.LatencyFor.Seconds(),
		P50Ms: 1000 * promq.Quantile(d, 0.50), P99Ms: 1000 * promq.Quantile(d, 0.99)}
	if r.res.Latency.Stages, err = c.stageQuantiles(ctx, stagesBefore); err != nil {
		return err
	}
	r.logf("enricher: latency at %.0f events/s for %v: p50 %.1f ms, p99 %.1f ms (%d events)",
		r.cfg.Rate, r.cfg.LatencyFor, r.res.Latency.P50Ms, r.res.Latency.P99Ms, n)
	for _, st := range r.res.Latency.Stages {
		r.logf("  %s: p50 %.4g, p99 %.4g", st.Metric, st.P50, st.P99)
	}
	rss, _ := c.stop()
	r.res.Enricher = t.withMem(rss, c)
	r.logf("enricher: peak RSS %.0f MB (sampled peaks: anon %.0f MB, file-backed %.0f MB)", mb(rss), mb(c.peakAnon), mb(c.peakFile))

	// Warm restart on the same data dir.
	c2, err := r.startRun("enricher (warm restart)", "", dir, "bench-enricher", out, false)
	if err != nil {
		return err
	}
	defer c2.stop()
	warm, err := c2.waitReady(ctx, 2*time.Minute)
	if err != nil {
		return err
	}
	r.res.WarmRestartS = warm.Seconds()
	r.logf("enricher: warm restart ready in %v", warm.Round(time.Millisecond))
	return nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// withMem adds a stopped child's peak RSS (rss, from stop) and sampled peaks.
func (t Throughput) withMem(rss int64, c *child) Throughput {
	t.PeakRSSMB, t.AnonMB, t.FileMB = mb(rss), mb(c.peakAnon), mb(c.peakFile)
	return t
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// StartCPUProfile profiles this process into path until stop is called.
func StartCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeHeapProfile writes the live heap as of the last GC to path; what it
// holds at the end of the window is what each GC cycle had to mark.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

// WindowCPUProfile profiles this process into path from SIGUSR1 to SIGUSR2,
// and writes a heap profile beside it (.heap.pprof) at SIGUSR2
// (`enricher bench` sends them at the first and last output record), or to
// stop if no SIGUSR2 came first. Signals are taken in order from one
// channel, so a window that starts also ends before stop returns.
func WindowCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		on := false
		for {
			select {
			case s := <-sigs:
				switch {
				case s == syscall.SIGUSR1 && !on:
					on = pprof.StartCPUProfile(f) == nil
				case s == syscall.SIGUSR2 && on:
					pprof.StopCPUProfile()
					on = false
					writeHeapProfile(strings.TrimSuffix(path, ".pprof") + ".heap.pprof")
				}
			case <-done:
				if on {
					pprof.StopCPUProfile()
				}
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		<-ended
		f.Close()
	}, nil
}
