package main

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/internal/kafkax"
	redissink "github.com/thmanyah/enricher/sink/redis"
)

func newSinkRedisCmd() *cobra.Command {
	var cfg redissink.Config
	var brokers, logLevel string
	cmd := &cobra.Command{
		Use:   "redis",
		Short: "Keep the rolling top content of the last 10 minutes in Redis",
		Long: `redis consumes the enriched records (--topic) in its own consumer group and keeps
the sorted set engagement:top:10m in Redis: member = content id, score = total
engagement_seconds of the events whose event time lies in the last --window,
each event counted once even when Kafka delivers it again. --top members are
kept (0 keeps all). Offsets are committed only after Redis acknowledged a
batch; while Redis is down the sink retries and commits nothing. If Redis
loses its data, the sink rebuilds the window from Kafka.

HTTP on --http-addr: GET /top?n=N (the top N with content id, score and, when
the records carried it, content_type), /healthz, /metrics. Titles are not in
the enriched records: give --content-api (the base URL of 'enricher run', e.g.
http://localhost:8080) and /top adds each title from its /debug/content API.`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: runWithBrokers(&brokers, &logLevel, &cfg.Brokers, func(ctx context.Context, log *zap.Logger) error {
			redis.SetLogger(redissink.GoRedisLogger{Log: log.Named("go-redis")}) // go-redis has only a process-wide logger
			return redissink.Run(ctx, cfg, log)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.RedisURL, "redis-url", "redis://localhost:6379/0", "Redis URL (redis:// or rediss://)")
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cfg.Topic, "topic", kafkax.TopicOutput, "topic of the enriched Avro records")
	fs.StringVar(&cfg.Group, "group", "enricher-sink-redis", "this sink's consumer group")
	fs.DurationVar(&cfg.Window, "window", 10*time.Minute, "sliding window by event time, in whole seconds")
	fs.IntVar(&cfg.Top, "top", 10, "members engagement:top:10m keeps, and /top's default n; 0 keeps every content id in the window")
	fs.StringVar(&cfg.SchemaRegistryURL, "schema-registry-url", "", "Confluent Schema Registry URL, to read Confluent-framed records; empty: single-object records only")
	fs.StringVar(&cfg.DLQTopic, "dlq-topic", kafkax.TopicDLQ, "dead-letter topic for records that cannot be decoded")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8081", "address of /top, /healthz and /metrics")
	fs.StringVar(&cfg.ContentAPI, "content-api", "", "base URL of 'enricher run' for titles in /top, e.g. http://localhost:8080; empty: no titles")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cli.BindFields(fs, map[string][2]string{
		"redis-url": {"REDIS_URL", "RedisURL"}, "brokers": {"KAFKA_BROKERS", "Brokers"}, "topic": {"OUTPUT_TOPIC", "Topic"},
		"group": {"SINK_REDIS_GROUP", "Group"}, "window": {"SINK_REDIS_WINDOW", "Window"}, "top": {"SINK_REDIS_TOP", "Top"},
		"schema-registry-url": {"SCHEMA_REGISTRY_URL", "SchemaRegistryURL"}, "dlq-topic": {"DLQ_TOPIC", "DLQTopic"},
		"http-addr": {"SINK_REDIS_HTTP_ADDR", "HTTPAddr"}, "content-api": {"SINK_REDIS_CONTENT_API", "ContentAPI"},
		"log-level": {"LOG_LEVEL", ""},
	})
	return cmd
}
