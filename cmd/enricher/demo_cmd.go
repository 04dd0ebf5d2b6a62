package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/internal/kafkax"
	redissink "github.com/thmanyah/enricher/sink/redis"
	"github.com/thmanyah/enricher/tools/demo"
)

func newDemoCmd() *cobra.Command {
	var cfg demo.Config
	var httpAddr, logLevel string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The whole architecture on this machine, no Docker: Kafka, Postgres, capture, datagen, run, both sinks, a receiver",
		Long: `demo starts an in-process Kafka on loopback, a temporary redis-server when it is
installed, a temporary PostgreSQL cluster when its server binaries are found (Debian's
postgresql package), the development CDC (capture) and the data generator (datagen)
against it, the service itself (run), the Redis sink (engagement:top:10m) and the HTTP
sink delivering to the built-in receiver, and injects a few malformed engagement
records that go to the DLQ. It prints the console's URL first, then what it started,
when the first enriched event, Redis ranking and delivery happened, a status line
every few seconds, and at the end a summary that accounts for every generated event.
Without PostgreSQL it writes synthetic Debezium records straight to Kafka; without
redis-server it skips the Redis sink. Query the service meanwhile:

  curl -s localhost:8080/debug/stats
  curl -s 'localhost:8080/debug/content?limit=3'

Ctrl-C stops it cleanly; --duration stops it by itself.`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := cli.NewLogger(logLevel)
			if err != nil {
				return err
			}
			// go-redis has only a process-wide logger: its reconnect messages
			// (the demo's redis-server stopping) go to the log, not stderr.
			redis.SetLogger(redissink.GoRedisLogger{Log: log.Named("go-redis")})
			cfg.Service = func(env demo.ServiceEnv) (demo.Service, error) {
				m, err := NewMain(RunConfig{
					Brokers: env.Brokers, ContentTopic: kafkax.TopicContent, EventsTopics: kafkax.EventsTopics,
					OutputTopic: kafkax.TopicOutput, DLQTopic: kafkax.TopicDLQ, Group: "enricher",
					DataDir: env.DataDir, HTTPAddr: httpAddr, JoinWait: 5 * time.Second, JoinMode: "asof",
					HistoryRetention: 720 * time.Hour, LogLevel: logLevel, ConsoleRedisURL: env.RedisURL,
				}, log)
				if err != nil {
					return nil, err
				}
				return demoService{m}, nil
			}
			return cli.NameField(cmd, demo.Run(cmd.Context(), cfg, log, cmd.OutOrStdout()))
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	fs.StringVar(&httpAddr, "http-addr", "127.0.0.1:8080", "address of the service's HTTP server")
	fs.Float64Var(&cfg.Rate, "rate", 200, "engagement events per second")
	fs.Float64Var(&cfg.UpdateRate, "update-rate", 0.5, "content updates and deletes per second (0: none)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "data generator seed")
	fs.DurationVar(&cfg.StatusEvery, "status-every", 3*time.Second, "how often the status line is printed")
	fs.BoolVar(&cfg.NoPostgres, "no-postgres", false, "skip PostgreSQL even when found: synthetic Debezium records straight to Kafka")
	fs.BoolVar(&cfg.NoRedis, "no-redis", false, "skip redis-server and the Redis sink even when found")
	fs.StringVar(&logLevel, "log-level", "warn", "log level of the service's logs")
	// Flags without a variable: their refusals read `--flag: problem`.
	cli.BindFields(fs, map[string][2]string{"http-addr": {"HTTP_ADDR", ""}, "log-level": {"LOG_LEVEL", ""},
		"rate": {"", "Rate"}, "update-rate": {"", "UpdateRate"}, "seed": {"", "Seed"},
		"status-every": {"", "StatusEvery"}, "duration": {"", "Duration"}, "no-postgres": {"", "NoPostgres"},
		"no-redis": {"", "NoRedis"}})
	return cmd
}

// demoService is the service as the demo runs it.
type demoService struct{ *Main }

func (s demoService) Gatherer() prometheus.Gatherer { return s.Registry }
