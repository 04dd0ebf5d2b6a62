package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/promq"
	"github.com/thmanyah/enricher/internal/rungroup"
	"github.com/thmanyah/enricher/tools/capture"
	"github.com/thmanyah/enricher/tools/datagen"
)

// Service is the enricher as the demo runs it: consuming the contract's
// topics from brokers, its view in dataDir (see Config.Service).
type Service interface {
	// Run runs the service until ctx ends (then it returns nil) or it fails.
	Run(ctx context.Context) error
	// HTTPAddr is the address its HTTP server listens on.
	HTTPAddr() string
	// Gatherer reads its metrics, for the status line.
	Gatherer() prometheus.Gatherer
	// Close releases what Run did not.
	Close()
}

// Config configures a demo.
type Config struct {
	// Rate is the engagement events generated per second; it must be positive.
	Rate float64
	// UpdateRate is the content updates and deletes per second; 0 is none.
	UpdateRate  float64
	Seed        uint64        // of the data generator
	StatusEvery time.Duration // how often the status line is printed; must be positive
	// Duration, when positive, stops the demo after that long; 0 runs until
	// ctx ends; it must not be negative.
	Duration time.Duration
	// NoPostgres skips Postgres even when its binaries are found.
	NoPostgres bool
	// Service opens the service on the demo's brokers and data directory.
	Service func(brokers []string, dataDir string) (Service, error)
}

// FieldError is the error of Run for a Config value it refuses: Field
// names the Config field.
type FieldError = field.Error

// validate checks every field; an error is a *FieldError, but for a
// missing Service.
func (c *Config) validate() error {
	switch {
	case !(c.Rate > 0) || math.IsInf(c.Rate, 0):
		return field.Refuse("Rate", "must be positive")
	case !(c.UpdateRate >= 0) || math.IsInf(c.UpdateRate, 0):
		return field.Refuse("UpdateRate", "must not be negative (0: no content changes)")
	case c.StatusEvery <= 0:
		return field.Refuse("StatusEvery", "must be positive")
	case c.Duration < 0:
		return field.Refuse("Duration", "must not be negative (0: until Ctrl-C)")
	case c.Service == nil:
		return errors.New("demo: no service")
	}
	return nil
}

// topics are the contract's topics as the demo creates them.
var topics = []struct {
	name  string
	parts int32
	conf  map[string]string
}{
	{kafkax.TopicContent, 3, map[string]string{"cleanup.policy": "compact"}},
	{kafkax.TopicEngagement, 3, nil},
	{kafkax.TopicBackfill, 1, nil},
	{kafkax.TopicOutput, 3, nil},
	{kafkax.TopicDLQ, 1, nil},
}

// Run runs the demo until ctx ends, cfg.Duration passes, or a part fails,
// writing what it does to out; log receives the parts' logs. It validates
// cfg first: a refused value is a *FieldError returned before anything
// starts.
func Run(ctx context.Context, cfg Config, log *zap.Logger, out io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		return net.Listen(network, "127.0.0.1:0")
	}))
	if err != nil {
		return fmt.Errorf("start in-process kafka: %w", err)
	}
	defer kc.Close()
	brokers := kc.ListenAddrs()
	for _, t := range topics {
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

	// In datagen.Config a zero rate means the default and a negative one none.
	gcfg := datagen.Config{Rate: cfg.Rate, UpdateRate: cfg.UpdateRate, Seed: cfg.Seed, Logger: log.Named("datagen")}
	if gcfg.UpdateRate == 0 {
		gcfg.UpdateRate = -1
	}
	var cp *capture.Capture
	pg, err := startPostgres(ctx, cfg.NoPostgres, out)
	if err != nil {
		return err
	}
	if pg != nil {
		defer pg.Stop()
		url := pg.URL("postgres")
		if cp, err = capture.New(capture.Config{PGURL: url, Brokers: brokers, Logger: log.Named("capture")}); err != nil {
			return err
		}
		gcfg.PGURL = url
	} else {
		gcfg.Brokers = brokers
	}
	gen, err := datagen.New(gcfg)
	if err != nil {
		return err
	}
	svc, err := cfg.Service(brokers, dataDir)
	if err != nil {
		return err
	}
	defer svc.Close()

	g := rungroup.New(ctx, log)
	if cp != nil {
		g.Go("capture", cp.Run)
	}
	g.Go("datagen", gen.Run)
	g.Go("run", svc.Run)
	fmt.Fprintf(out, "enricher: http://%s/debug/stats  (Ctrl-C to stop)\n", svc.HTTPAddr())

	g.Go("status", func(ctx context.Context) error {
		t := time.NewTicker(cfg.StatusEvery)
		defer t.Stop()
		prev, prevAt := readCounts(svc.Gatherer()), time.Now()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				cur := readCounts(svc.Gatherer())
				fmt.Fprintln(out, statusLine(prev, cur, now.Sub(prevAt), gen.Stats().Events))
				prev, prevAt = cur, now
			}
		}
	})
	err = g.Run()
	cur := readCounts(svc.Gatherer())
	fmt.Fprintf(out, "stopped: %d events generated, %d enriched (%d joined, %d misses), %d DLQ records, view %d rows\n",
		gen.Stats().Events, int64(cur.out), int64(cur.hits), int64(cur.misses), int64(cur.dlq), int64(cur.rows))
	return err
}

// startPostgres starts a temporary cluster with the contract's tables, or
// says why there is none (nil, nil); an error is one the cluster gave after
// it started.
func startPostgres(ctx context.Context, skip bool, out io.Writer) (*pgtemp.Cluster, error) {
	const fallback = "synthetic Debezium records go straight to Kafka"
	if skip {
		fmt.Fprintln(out, "postgres: skipped (--no-postgres): "+fallback)
		return nil, nil
	}
	pg, err := pgtemp.Start(ctx)
	switch {
	case errors.Is(err, pgtemp.ErrNoServer):
		fmt.Fprintln(out, "postgres: server binaries not found (apt-get install postgresql): "+fallback)
		return nil, nil
	case err != nil:
		fmt.Fprintf(out, "postgres: could not start (%v): %s\n", err, fallback)
		return nil, nil
	}
	fmt.Fprintf(out, "postgres (temporary) at %s: capture -> kafka\n", pg.URL("postgres"))
	if err := pg.Exec(ctx, "postgres", datagen.Schema); err != nil {
		pg.Stop()
		return nil, fmt.Errorf("create schema: %w", err)
	}
	return pg, nil
}

// counts are the service's counters as the status line reads them.
type counts struct {
	in, out, hits, misses, dlq, rows float64
	p50, p99                         float64
}

func readCounts(g prometheus.Gatherer) counts {
	var c counts
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
				c.p50 = promq.Quantile(m.GetHistogram(), 0.50)
				c.p99 = promq.Quantile(m.GetHistogram(), 0.99)
			}
		}
	}
	return c
}

func statusLine(prev, cur counts, dt time.Duration, generated int64) string {
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
