package main

import (
	"context"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/tools/capture"
)

func newCaptureCmd() *cobra.Command {
	var cfg capture.Config
	var tables, brokers, level string
	cmd := &cobra.Command{
		Use:   "capture",
		Short: "Development and test CDC: Postgres logical replication to Debezium-format topics",
		Long: `capture is development and test CDC; production uses Debezium (see the
README's production stack). It lets the tests and the demo run the whole chain,
from a Postgres commit to an enriched record, on one machine without Docker.

It reads Postgres logical replication (pgoutput) and writes what Debezium's
PostgreSQL connector would write with JsonConverter (schemas.enable=false) to
<topic-prefix>.<schema>.<table>, creating the topics when missing (the content
table's compacted). A new slot starts with a consistent snapshot of the tables
(op r); an existing slot resumes where it was confirmed. A position is
confirmed to Postgres only after Kafka acknowledged every record before it, so
a crash repeats changes but never loses one. The publication and the slot are
created when missing. It exits 0 on SIGINT or SIGTERM after flushing.`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: runWithBrokers(&brokers, &level, &cfg.Brokers, func(ctx context.Context, log *zap.Logger) error {
			cfg.Tables, cfg.Logger = cli.SplitList(tables), log
			c, err := capture.New(cfg)
			if err != nil {
				return err
			}
			return c.Run(ctx)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.PGURL, "pg-url", "", "Postgres URL of the database to capture (needs wal_level=logical)")
	fs.StringVar(&tables, "tables", "public.content,public.engagement_events", "tables to capture, comma-separated schema.table")
	fs.StringVar(&cfg.TopicPrefix, "topic-prefix", "thmanyah", "topic prefix: topics are <prefix>.<schema>.<table>")
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cfg.Slot, "slot", "enricher_capture", "logical replication slot (created when missing)")
	fs.StringVar(&cfg.Publication, "publication", "enricher_capture", "publication of the tables (created when missing)")
	fs.IntVar(&cfg.Partitions, "partitions", 3, "partitions of the topics capture creates")
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn, error")
	cli.BindFields(fs, map[string][2]string{
		"pg-url": {"PG_URL", "PGURL"}, "tables": {"CAPTURE_TABLES", "Tables"}, "topic-prefix": {"TOPIC_PREFIX", "TopicPrefix"},
		"brokers": {"KAFKA_BROKERS", "Brokers"}, "slot": {"CAPTURE_SLOT", "Slot"}, "publication": {"CAPTURE_PUBLICATION", "Publication"},
		"partitions": {"CAPTURE_PARTITIONS", "Partitions"}, "log-level": {"LOG_LEVEL", ""},
	})
	return cmd
}
