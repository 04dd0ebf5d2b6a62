package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/memlimit"
)

func newRunCmd() *cobra.Command {
	var cfg RunConfig
	var brokers, eventsTopics string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the service: content view, enrichment, HTTP endpoints",
		Long: `run keeps the content view current from the content topic, enriches the
engagement topics into the output topic, and serves /debug/content, /debug/stats,
/healthz, /readyz and /metrics on --http-addr. It exits 0 on SIGINT or SIGTERM
after finishing the batch in hand.`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Brokers, err = cli.ParseBrokers(brokers); err != nil {
				return err
			}
			cfg.EventsTopics = cli.SplitList(eventsTopics)
			log, err := cli.NewLogger(cfg.LogLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			m, err := NewMain(cfg, log)
			if err != nil {
				return err
			}
			defer m.Close()
			ctx := cmd.Context()
			if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				kept := make(chan error, 1)
				go func() { kept <- memlimit.Keep(ctx, memoryLimit(log)) }()
				defer func() { cancel(); <-kept }()
			}
			return m.Run(ctx)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cfg.ContentTopic, "content-topic", kafkax.TopicContent, "Debezium topic of the content table")
	fs.StringVar(&eventsTopics, "events-topics", strings.Join(kafkax.EventsTopics, ","), "engagement topics to enrich, comma-separated")
	fs.StringVar(&cfg.OutputTopic, "output-topic", kafkax.TopicOutput, "topic of the enriched Avro records")
	fs.StringVar(&cfg.DLQTopic, "dlq-topic", kafkax.TopicDLQ, "dead-letter topic for records that cannot be processed")
	fs.StringVar(&cfg.Group, "group", "enricher", "consumer group of the engagement topics")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "directory of the content view (Badger); created when missing")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "address of the debug, health and metrics HTTP server")
	fs.StringVar(&cfg.SchemaRegistryURL, "schema-registry-url", "", "Confluent Schema Registry URL; empty: single-object Avro output and no Avro input")
	fs.DurationVar(&cfg.JoinWait, "join-wait", 5*time.Second, "how long an event whose content is missing (or may be newer than the view) is held for it, from when it is read; 0 holds nothing")
	fs.IntVar(&cfg.HoldMaxEvents, "join-hold-max-events", 100_000, "most events held for late content at once; one more is emitted at once")
	fs.Int64Var(&cfg.HoldMaxBytes, "join-hold-max-bytes", 64<<20, "most bytes of events held for late content at once; one more is emitted at once")
	fs.BoolVar(&cfg.ExactlyOnce, "exactly-once", true, "after a crash or rebalance, skip the events whose output was already written (false: at-least-once)")
	fs.StringVar(&cfg.JoinMode, "join-mode", "asof", "join with the content as of the event's time (asof) or the current content (latest)")
	fs.DurationVar(&cfg.HistoryRetention, "history-retention", 720*time.Hour, "how long superseded content versions are kept for as-of joins")
	fs.IntVar(&cfg.Workers, "workers", 0, "batches decoded, joined and encoded at once; 0: GOMAXPROCS+2")
	fs.BoolVar(&cfg.SourceHeaders, "source-headers", false, "add source.topic, source.partition and source.offset headers to every output record")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&cfg.ConsoleRedisURL, "console-redis-url", "", "Redis URL the console's top content page reads (engagement:top:10m); empty: none")
	cli.BindEnvs(fs, map[string]string{
		"brokers": "KAFKA_BROKERS", "content-topic": "CONTENT_TOPIC", "events-topics": "EVENTS_TOPICS",
		"output-topic": "OUTPUT_TOPIC", "dlq-topic": "DLQ_TOPIC", "group": "CONSUMER_GROUP", "data-dir": "DATA_DIR",
		"http-addr": "HTTP_ADDR", "schema-registry-url": "SCHEMA_REGISTRY_URL", "join-wait": "JOIN_WAIT",
		"join-mode": "JOIN_MODE", "history-retention": "HISTORY_RETENTION", "workers": "WORKERS", "source-headers": "SOURCE_HEADERS", "log-level": "LOG_LEVEL",
		"join-hold-max-events": "JOIN_HOLD_MAX_EVENTS", "join-hold-max-bytes": "JOIN_HOLD_MAX_BYTES", "exactly-once": "EXACTLY_ONCE",
		"console-redis-url": "CONSOLE_REDIS_URL",
	})
	return cmd
}

// memoryLimit keeps the soft memory limit 192 MiB above the live heap, at
// least 256 MiB: the GC returns Badger's table-building garbage before RSS
// grows (a 100k-row view stays well under 300 MB), and a large view, loaded
// after start-up, is never squeezed into a limit near its live heap. A fixed
// 256 MiB limit did that to a 1M-row view (~225 MB live): the GC ran almost
// without pause and the enricher spent 2.4× the CPU per event of a 100k-row
// view (`enricher bench`, 2 cores). GOMEMLIMIT, when set, replaces it.
func memoryLimit(log *zap.Logger) memlimit.Config {
	return memlimit.Config{Floor: 256 << 20, Headroom: 192 << 20, Every: time.Second, OnChange: func(limit, live int64) {
		log.Debug("soft memory limit", zap.Int64("bytes", limit), zap.Int64("live_heap_bytes", live))
	}}
}
