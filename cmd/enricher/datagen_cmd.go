package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/tools/datagen"
)

func newDatagenCmd() *cobra.Command {
	var (
		cfg               datagen.Config
		brokers, logLevel string
		duration          time.Duration
	)
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Brokers, err = cli.ParseBrokers(brokers); err != nil {
				return err
			}
			if (cfg.PGURL == "") == (len(cfg.Brokers) == 0) {
				return errors.New("datagen: give exactly one of --pg-url ($PG_URL) and --brokers ($KAFKA_BROKERS)")
			}
			switch {
			case cfg.Rate < 0:
				return cli.FlagError("rate", "DATAGEN_RATE", "must not be negative")
			case cfg.UpdateRate < 0:
				return cli.FlagError("update-rate", "DATAGEN_UPDATE_RATE", "must not be negative")
			case cfg.Catalogue < 1:
				return cli.FlagError("catalogue", "DATAGEN_CATALOGUE", "must be at least 1")
			case duration < 0:
				return cli.FlagError("duration", "DATAGEN_DURATION", "must not be negative")
			}
			// In Config zero means the default and a negative rate means none.
			if cfg.Rate == 0 {
				cfg.Rate = -1
			}
			if cfg.UpdateRate == 0 {
				cfg.UpdateRate = -1
			}
			log, err := cli.NewLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			cfg.Logger = log
			return datagen.RunFor(cmd.Context(), cfg, duration, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.PGURL, "pg-url", "", "target Postgres URL (postgres://user@host:5432/db)")
	fs.StringVar(&brokers, "brokers", "", "target Kafka bootstrap brokers, comma-separated")
	fs.Float64Var(&cfg.Rate, "rate", datagen.DefaultRate, "engagement events per second (0: none)")
	fs.Float64Var(&cfg.UpdateRate, "update-rate", datagen.DefaultUpdateRate, "content updates and deletes per second (0: none)")
	fs.IntVar(&cfg.Catalogue, "catalogue", datagen.DefaultCatalogue, "content rows to start with (topped up when the table has fewer)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed gives the same catalogue and events")
	fs.DurationVar(&duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	fs.StringVar(&cfg.TopicPrefix, "topic-prefix", datagen.DefaultTopicPrefix, "Debezium topic prefix: content goes to <prefix>.public.content (Kafka only)")
	fs.StringVar(&cfg.EventsTopic, "events-topic", datagen.DefaultEventsTopic, "topic of the plain JSON engagement events (Kafka only)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cli.BindEnvs(fs, map[string]string{
		"pg-url": "PG_URL", "brokers": "KAFKA_BROKERS", "rate": "DATAGEN_RATE", "update-rate": "DATAGEN_UPDATE_RATE",
		"catalogue": "DATAGEN_CATALOGUE", "seed": "DATAGEN_SEED", "duration": "DATAGEN_DURATION",
		"topic-prefix": "TOPIC_PREFIX", "events-topic": "EVENTS_TOPIC", "log-level": "LOG_LEVEL",
	})
	return cmd
}
