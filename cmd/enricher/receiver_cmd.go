package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/tools/receiver"
)

func newReceiverCmd() *cobra.Command {
	var cfg receiver.Config
	var logLevel string
	cmd := &cobra.Command{
		Use:   "receiver",
		Short: "A stand-in for the external system `sink http` delivers to, with fault injection",
		Long: `receiver accepts the POSTs of ` + "`enricher sink http`" + ` on / and /events, counts
their events once per Idempotency-Key (a repeated key is acknowledged, not
counted again), and reports batches, events, duplicate keys and injected
faults on GET /stats. Faults: --fail-rate answers 503, --throttle-rate answers
429 with Retry-After, both before counting; --drop-rate closes the connection
and --slow delays the answer, both after counting. Each can also be set per
request in the query string of the URL (fail_rate, throttle_rate, retry_after,
drop_rate, slow, slow_rate).`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := cli.NewLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			cfg.Logger = log.Named("receiver")
			return cli.NameField(cmd, receiver.Run(cmd.Context(), cfg))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8090", "address to listen on")
	fs.Float64Var(&cfg.Faults.FailRate, "fail-rate", 0, "fraction of POSTs answered 503 (not counted)")
	fs.Float64Var(&cfg.Faults.ThrottleRate, "throttle-rate", 0, "fraction of POSTs answered 429 with Retry-After (not counted)")
	fs.DurationVar(&cfg.Faults.RetryAfter, "retry-after", time.Second, "Retry-After of a 429, rounded up to whole seconds")
	fs.Float64Var(&cfg.Faults.DropRate, "drop-rate", 0, "fraction of POSTs counted, then dropped without an answer")
	fs.DurationVar(&cfg.Faults.Slow, "slow", 0, "delay of an answer, after counting (0: none)")
	fs.Float64Var(&cfg.Faults.SlowRate, "slow-rate", 1, "fraction of POSTs delayed by --slow")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the fault draws (0: random)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cli.BindFields(fs, map[string][2]string{
		"addr": {"RECEIVER_ADDR", "Addr"}, "fail-rate": {"RECEIVER_FAIL_RATE", "Faults.FailRate"},
		"throttle-rate": {"RECEIVER_THROTTLE_RATE", "Faults.ThrottleRate"}, "retry-after": {"RECEIVER_RETRY_AFTER", "Faults.RetryAfter"},
		"drop-rate": {"RECEIVER_DROP_RATE", "Faults.DropRate"}, "slow": {"RECEIVER_SLOW", "Faults.Slow"},
		"slow-rate": {"RECEIVER_SLOW_RATE", "Faults.SlowRate"}, "seed": {"RECEIVER_SEED", "Seed"}, "log-level": {"LOG_LEVEL", ""},
	})
	return cmd
}
