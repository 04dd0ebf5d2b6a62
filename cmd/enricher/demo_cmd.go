package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/tools/capture"
	"github.com/thmanyah/enricher/tools/datagen"
)

type demoConfig struct {
	Duration   time.Duration
	HTTPAddr   string
	Rate       float64
	UpdateRate float64
	Seed       uint64
	Every      time.Duration
	LogLevel   string
	NoPostgres bool
}

func newDemoCmd() *cobra.Command {
	var cfg demoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The whole pipeline on this machine, no Docker: in-process Kafka, temporary Postgres, capture, datagen, run",
		Long: `demo starts an in-process Kafka on loopback, a temporary PostgreSQL cluster when its
server binaries are found (Debian's postgresql package), the development CDC (capture)
and the data generator (datagen) against it, and the service itself (run), then prints
a status line every few seconds. Without PostgreSQL it says so and writes synthetic
Debezium records straight to Kafka. Query the view meanwhile:

  curl -s localhost:8080/debug/stats
  curl -s 'localhost:8080/debug/content?limit=3'

Ctrl-C stops it cleanly; --duration stops it by itself.`,
		Args:    cobra.NoArgs,
		PreRunE: applyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cfg.LogLevel)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if cfg.Duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
				defer cancel()
			}
			return runDemo(ctx, cfg, log, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "address of the service's HTTP server")
	fs.Float64Var(&cfg.Rate, "rate", 200, "engagement events per second")
	fs.Float64Var(&cfg.UpdateRate, "update-rate", 0.5, "content updates and deletes per second")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "data generator seed")
	fs.DurationVar(&cfg.Every, "status-every", 3*time.Second, "how often the status line is printed")
	fs.BoolVar(&cfg.NoPostgres, "no-postgres", false, "skip PostgreSQL even when found: synthetic Debezium records straight to Kafka")
	fs.StringVar(&cfg.LogLevel, "log-level", "warn", "log level of the service's logs")
	bindEnv(fs, "http-addr", "HTTP_ADDR")
	bindEnv(fs, "log-level", "LOG_LEVEL")
	return cmd
}

func runDemo(ctx context.Context, cfg demoConfig, log *zap.Logger, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(loopbackListen))
	if err != nil {
		return fmt.Errorf("start in-process kafka: %w", err)
	}
	defer kc.Close()
	brokers := kc.ListenAddrs()
	for _, t := range []struct {
		name  string
		parts int32
		conf  map[string]string
	}{
		{"thmanyah.public.content", 3, map[string]string{"cleanup.policy": "compact"}},
		{"thmanyah.public.engagement_events", 3, nil},
		{"engagement_events.backfill", 1, nil},
		{"processed_engagements", 3, nil},
		{"enricher.dlq", 1, nil},
	} {
		if err := kc.CreateTopic(t.name, t.parts, t.conf); err != nil {
			return fmt.Errorf("create topic %s: %w", t.name, err)
		}
	}
	fmt.Fprintf(out, "kafka (in-process) on %s\n", brokers[0])

	dataDir, err := os.MkdirTemp("", "enricher-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	gcfg := datagen.Config{Rate: cfg.Rate, UpdateRate: cfg.UpdateRate, Seed: cfg.Seed, Logger: log.Named("datagen")}
	var pg *pgtemp.Cluster
	if !cfg.NoPostgres {
		pg, err = pgtemp.Start(ctx)
	}
	switch {
	case cfg.NoPostgres:
		fmt.Fprintln(out, "postgres: skipped (--no-postgres): synthetic Debezium records go straight to Kafka")
	case errors.Is(err, pgtemp.ErrNoServer):
		fmt.Fprintln(out, "postgres: server binaries not found (apt-get install postgresql): synthetic Debezium records go straight to Kafka")
	case err != nil:
		fmt.Fprintf(out, "postgres: could not start (%v): synthetic Debezium records go straight to Kafka\n", err)
	}
	if pg != nil {
		defer pg.Stop()
		url := pg.URL("postgres")
		fmt.Fprintf(out, "postgres (temporary) at %s: capture -> kafka\n", url)
		if err := pg.Exec(ctx, "postgres", datagen.Schema); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		cp, err := capture.New(capture.Config{PGURL: url, Brokers: brokers, Logger: log.Named("capture")})
		if err != nil {
			return err
		}
		run("capture", cp.Run)
		gcfg.PGURL = url
	} else {
		gcfg.Brokers = brokers
	}
	gen, err := datagen.New(gcfg)
	if err != nil {
		return err
	}
	run("datagen", gen.Run)

	rc := RunConfig{
		Brokers: brokers, ContentTopic: "thmanyah.public.content",
		EventsTopics: []string{"thmanyah.public.engagement_events", "engagement_events.backfill"},
		OutputTopic:  "processed_engagements", DLQTopic: "enricher.dlq", Group: "enricher",
		DataDir: dataDir, HTTPAddr: cfg.HTTPAddr, JoinWait: 5 * time.Second, JoinMode: "asof",
		HistoryRetention: 720 * time.Hour, LogLevel: cfg.LogLevel,
	}
	m, err := NewMain(rc, log)
	if err != nil {
		return err
	}
	defer m.Close()
	run("run", m.Run)
	fmt.Fprintf(out, "enricher: http://%s/debug/stats  (Ctrl-C to stop)\n", m.HTTPAddr())

	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	prev, prevAt := demoCounts{}, time.Now()
	var failure error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case failure = <-errc:
			break loop
		case now := <-t.C:
			cur := readCounts(m.Registry)
			fmt.Fprintln(out, statusLine(prev, cur, now.Sub(prevAt), gen.Stats().Events))
			prev, prevAt = cur, now
		}
	}
	cancel()
	wg.Wait()
	cur := readCounts(m.Registry)
	fmt.Fprintf(out, "stopped: %d events generated, %d enriched (%d joined, %d misses), %d DLQ records, view %d rows\n",
		gen.Stats().Events, int64(cur.out), int64(cur.hits), int64(cur.misses), int64(cur.dlq), int64(cur.rows))
	return failure
}

type demoCounts struct {
	in, out, hits, misses, dlq, rows float64
	p50, p99                         float64
}

func readCounts(g prometheus.Gatherer) demoCounts {
	var c demoCounts
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			label := map[string]string{}
			for _, l := range m.GetLabel() {
				label[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "enricher_events_total":
				v := m.GetCounter().GetValue()
				c.in += v
				switch label["result"] {
				case "enriched":
					c.hits += v
					c.out += v
				case "miss":
					c.misses += v
					c.out += v
				case "no_content_id":
					c.out += v
				case "dlq":
					c.dlq += v
				}
			case "enricher_cdc_records_total":
				if label["result"] == "dlq" {
					c.dlq += m.GetCounter().GetValue()
				}
			case "enricher_view_rows":
				c.rows = m.GetGauge().GetValue()
			case "enricher_event_latency_seconds":
				c.p50 = quantile(m.GetHistogram(), 0.50)
				c.p99 = quantile(m.GetHistogram(), 0.99)
			}
		}
	}
	return c
}

func statusLine(prev, cur demoCounts, dt time.Duration, generated int64) string {
	sec := dt.Seconds()
	hit := 100.0
	if j := (cur.hits - prev.hits) + (cur.misses - prev.misses); j > 0 {
		hit = 100 * (cur.hits - prev.hits) / j
	}
	return fmt.Sprintf("%s  in %6.0f/s  out %6.0f/s  join hits %5.1f%%  latency p50 %s p99 %s  view %d rows  dlq %d  generated %d",
		time.Now().Format("15:04:05"), (cur.in-prev.in)/sec, (cur.out-prev.out)/sec, hit,
		ms(cur.p50), ms(cur.p99), int64(cur.rows), int64(cur.dlq), generated)
}

func ms(s float64) string {
	if math.IsNaN(s) {
		return "  -  "
	}
	return fmt.Sprintf("%.1fms", s*1000)
}

// quantile estimates a quantile from a cumulative histogram by linear
// interpolation inside the bucket that holds it, as Prometheus does.
func quantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return math.NaN()
	}
	rank, lower, prevCount := q*total, 0.0, 0.0
	for _, b := range h.GetBucket() {
		count := float64(b.GetCumulativeCount())
		if count >= rank {
			if count == prevCount {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-prevCount)/(count-prevCount)
		}
		lower, prevCount = b.GetUpperBound(), count
	}
	return lower
}

func loopbackListen(network, _ string) (net.Listener, error) {
	return net.Listen(network, "127.0.0.1:0")
}
