package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/tools/datagen"
)

func newDatagenCmd() *cobra.Command {
	var cfg datagen.RunConfig
	var brokers, logLevel string
	cmd := &cobra.Command{
		Use:   "datagen",
		Short: "Generate a content catalogue and engagement events into Postgres or Kafka",
		Long: `datagen creates a content catalogue (podcasts, newsletters, videos with Arabic
and English titles) and then writes engagement events at --rate per second and
content updates and deletes at --update-rate per second, until Ctrl-C or
--duration.

With --pg-url it writes the contract's tables (creating them when missing);
with --brokers it writes Debezium JSON content records to
<topic-prefix>.public.content and plain JSON events to --events-topic. Give
exactly one of the two. The same --seed gives the same catalogue and events.`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
	}
	cmd.RunE = runWithBrokers(&brokers, &logLevel, &cfg.Brokers, func(ctx context.Context, log *zap.Logger) error {
		cfg.Logger = log
		err := datagen.RunFor(ctx, cfg, cmd.OutOrStdout())
		if errors.Is(err, datagen.ErrTarget) { // a rule of two flags: NameField names one
			return errors.New("datagen: give exactly one of --pg-url ($PG_URL) and --brokers ($KAFKA_BROKERS)")
		}
		return err
	})
	fs := cmd.Flags()
	fs.StringVar(&cfg.PGURL, "pg-url", "", "target Postgres URL (postgres://user@host:5432/db)")
	fs.StringVar(&brokers, "brokers", "", "target Kafka bootstrap brokers, comma-separated")
	fs.Float64Var(&cfg.Rate, "rate", datagen.DefaultRate, "engagement events per second (0: none)")
	fs.Float64Var(&cfg.UpdateRate, "update-rate", datagen.DefaultUpdateRate, "content updates and deletes per second (0: none)")
	fs.IntVar(&cfg.Catalogue, "catalogue", datagen.DefaultCatalogue, "content rows to start with (topped up when the table has fewer)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed gives the same catalogue and events")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	fs.StringVar(&cfg.TopicPrefix, "topic-prefix", datagen.DefaultTopicPrefix, "Debezium topic prefix: content goes to <prefix>.public.content (Kafka only)")
	fs.StringVar(&cfg.EventsTopic, "events-topic", datagen.DefaultEventsTopic, "topic of the plain JSON engagement events (Kafka only)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cli.BindFields(fs, map[string][2]string{
		"pg-url": {"PG_URL", "PGURL"}, "brokers": {"KAFKA_BROKERS", "Brokers"}, "rate": {"DATAGEN_RATE", "Rate"},
		"update-rate": {"DATAGEN_UPDATE_RATE", "UpdateRate"}, "catalogue": {"DATAGEN_CATALOGUE", "Catalogue"},
		"seed": {"DATAGEN_SEED", "Seed"}, "duration": {"DATAGEN_DURATION", "Duration"}, "topic-prefix": {"TOPIC_PREFIX", "TopicPrefix"},
		"events-topic": {"EVENTS_TOPIC", "EventsTopic"}, "log-level": {"LOG_LEVEL", ""},
	})
	return cmd
}
