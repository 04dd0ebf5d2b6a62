package main

import (
	"github.com/spf13/cobra"

	"github.com/thmanyah/enricher/backfill"
	"github.com/thmanyah/enricher/internal/cli"
)

func newBackfillCmd() *cobra.Command {
	var (
		cc                backfill.CommandConfig
		brokers, logLevel string
	)
	cmd := &cobra.Command{
		Use:   "backfill",
		Short: "Replay historical engagement_events from Postgres into Kafka for enrichment",
		Long: `backfill reads the engagement_events rows whose event_ts lies in [--from, --to)
from Postgres, in id order and --batch rows per query, and writes them as the
contract's plain JSON events (key: the event id) to --topic, which the service
enriches like live events, as of each event's time.

After every write Kafka acknowledged, the last id is saved to --checkpoint
(atomically). A run that stopped (Ctrl-C, a crash, Postgres or Kafka going
away) continues where it stopped with --resume and the same --from, --to and
--topic; only the write in flight is sent twice. --dry-run counts what would
be sent and sends nothing. See README-backfill.md.`,
		Example: `  enricher backfill --pg-url postgres://enricher@db:5432/thmanyah \
    --from 2025-01-01T00:00:00Z --to 2025-02-01T00:00:00Z --rate 2000 --brokers kafka:9092`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cc.Brokers, err = cli.ParseBrokers(brokers); err != nil {
				return err
			}
			log, err := cli.NewLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			cc.Logger = log.Named("backfill")
			return backfill.RunCommand(cmd.Context(), cc, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cc.PGURL, "pg-url", "", "source Postgres URL (postgres://user@host:5432/db)")
	fs.StringVar(&cc.From, "from", "", "start of the range, inclusive, on event_ts (RFC 3339, e.g. 2025-01-01T00:00:00Z)")
	fs.StringVar(&cc.To, "to", "", "end of the range, exclusive, on event_ts (RFC 3339)")
	fs.IntVar(&cc.Batch, "batch", backfill.DefaultBatch, "rows per query (and per Kafka write)")
	fs.Float64Var(&cc.Rate, "rate", 0, "events per second at most (0: unlimited)")
	fs.StringVar(&cc.Topic, "topic", backfill.DefaultTopic, "topic of the plain JSON events")
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cc.Checkpoint, "checkpoint", backfill.DefaultCheckpoint, "checkpoint file: the last id Kafka acknowledged, the range and topic")
	fs.BoolVar(&cc.Resume, "resume", false, "continue the run recorded in --checkpoint (same --from, --to, --topic)")
	fs.BoolVar(&cc.DryRun, "dry-run", false, "count the events and the id range that would be sent; send nothing")
	fs.DurationVar(&cc.CountTimeout, "count-timeout", backfill.DefaultCountTimeout, "time allowed for the exact count(*) of the progress total; past it the planner's estimate (0: the estimate alone)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cli.BindEnvs(fs, map[string]string{
		"pg-url": "PG_URL", "from": "BACKFILL_FROM", "to": "BACKFILL_TO", "batch": "BACKFILL_BATCH", "rate": "BACKFILL_RATE",
		"topic": "BACKFILL_TOPIC", "brokers": "KAFKA_BROKERS", "checkpoint": "BACKFILL_CHECKPOINT", "resume": "BACKFILL_RESUME",
		"dry-run": "BACKFILL_DRY_RUN", "count-timeout": "BACKFILL_COUNT_TIMEOUT", "log-level": "LOG_LEVEL",
	})
	return cmd
}
