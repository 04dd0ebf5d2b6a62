package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/internal/kafkax"
	httpsink "github.com/thmanyah/enricher/sink/http"
)

func newSinkHTTPCmd() *cobra.Command {
	var cfg httpsink.Config
	var brokers, logLevel string
	cmd := &cobra.Command{
		Use:   "http",
		Short: "Deliver enriched events to an external HTTP endpoint, with retries and a DLQ",
		Long: `http consumes the output topic in its own consumer group and POSTs the events
to --url as JSON batches {"events":[...]}, each with an Idempotency-Key that is
the same whenever the same records are sent again (after a retry, a crash or a
rebalance). Failed POSTs are retried with backoff; 429 and Retry-After are
honoured; a circuit breaker pauses delivery while the endpoint is down. A batch
refused with a 4xx (other than 408 and 429), or still failing after
--max-retries, goes to the DLQ topic, as do records that cannot be decoded.
Offsets are committed only after that. /metrics and /healthz are served on
--http-addr. It exits 0 on SIGINT or SIGTERM after finishing the POSTs in flight.`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: runWithBrokers(&brokers, &logLevel, &cfg.Brokers, func(ctx context.Context, log *zap.Logger) error {
			return httpsink.Run(ctx, cfg, log)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.URL, "url", "", "endpoint the batches are POSTed to (required)")
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cfg.Topic, "topic", kafkax.TopicOutput, "topic of the enriched Avro records")
	fs.StringVar(&cfg.Group, "group", "enricher-sink-http", "consumer group of this sink")
	fs.StringVar(&cfg.DLQTopic, "dlq-topic", kafkax.TopicDLQ, "dead-letter topic for records that cannot be delivered")
	fs.IntVar(&cfg.BatchSize, "batch", 500, "records per POST at most")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "POSTs in flight at most, across partitions (one per partition)")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "timeout of one POST")
	fs.IntVar(&cfg.MaxRetries, "max-retries", 8, "retries of a failing batch before it goes to the DLQ")
	fs.DurationVar(&cfg.Linger, "linger", 50*time.Millisecond, "how long a batch waits to fill")
	fs.IntVar(&cfg.BreakerFailures, "breaker-failures", 5, "consecutive failures that open the circuit breaker")
	fs.DurationVar(&cfg.BreakerCooldown, "breaker-cooldown", 5*time.Second, "how long the breaker stays open before a probe")
	fs.StringVar(&cfg.SchemaRegistryURL, "schema-registry-url", "", "Confluent Schema Registry URL, for records in the Confluent wire format")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8082", "address of the /metrics and /healthz HTTP server")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cli.BindFields(fs, map[string][2]string{
		"url": {"SINK_HTTP_URL", "URL"}, "brokers": {"KAFKA_BROKERS", "Brokers"}, "topic": {"OUTPUT_TOPIC", "Topic"},
		"group": {"SINK_HTTP_GROUP", "Group"}, "dlq-topic": {"DLQ_TOPIC", "DLQTopic"}, "batch": {"SINK_HTTP_BATCH", "BatchSize"},
		"concurrency": {"SINK_HTTP_CONCURRENCY", "Concurrency"}, "timeout": {"SINK_HTTP_TIMEOUT", "Timeout"},
		"max-retries": {"SINK_HTTP_MAX_RETRIES", "MaxRetries"}, "linger": {"SINK_HTTP_LINGER", "Linger"},
		"breaker-failures": {"SINK_HTTP_BREAKER_FAILURES", "BreakerFailures"}, "log-level": {"LOG_LEVEL", ""},
		"breaker-cooldown": {"SINK_HTTP_BREAKER_COOLDOWN", "BreakerCooldown"}, "http-addr": {"SINK_HTTP_ADDR", "HTTPAddr"},
		"schema-registry-url": {"SCHEMA_REGISTRY_URL", "SchemaRegistryURL"},
	})
	return cmd
}
