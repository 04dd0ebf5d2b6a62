package main

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/tools/receiver"
)

// checkFaults names the flag of a fault setting that makes no sense.
func checkFaults(f receiver.Faults) error {
	for _, r := range []struct {
		flag, env string
		v         float64
	}{
		{"fail-rate", "RECEIVER_FAIL_RATE", f.FailRate}, {"throttle-rate", "RECEIVER_THROTTLE_RATE", f.ThrottleRate},
		{"drop-rate", "RECEIVER_DROP_RATE", f.DropRate}, {"slow-rate", "RECEIVER_SLOW_RATE", f.SlowRate},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			return cli.FlagError(r.flag, r.env, "must be a fraction in [0,1]")
		}
	}
	switch {
	case f.FailRate+f.ThrottleRate+f.DropRate > 1:
		return cli.FlagError("fail-rate", "RECEIVER_FAIL_RATE", "fail, throttle and drop rates add up to more than 1")
	case f.Slow < 0:
		return cli.FlagError("slow", "RECEIVER_SLOW", "must not be negative")
	case f.RetryAfter < 0:
		return cli.FlagError("retry-after", "RECEIVER_RETRY_AFTER", "must not be negative")
	}
	return nil
}

func newReceiverCmd() *cobra.Command {
	var cfg receiver.Config
	var addr, logLevel string
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
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return cli.FlagError("addr", "RECEIVER_ADDR", fmt.Sprintf("%q is not host:port", addr))
			}
			if err := checkFaults(cfg.Faults); err != nil {
				return err
			}
			log, err := cli.NewLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return cli.FlagError("addr", "RECEIVER_ADDR", fmt.Sprintf("listen on %q: %v (is the port in use?)", addr, err))
			}
			cfg.Logger = log.Named("receiver")
			return receiver.Run(cmd.Context(), cfg, ln)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&addr, "addr", "127.0.0.1:8090", "address to listen on")
	fs.Float64Var(&cfg.Faults.FailRate, "fail-rate", 0, "fraction of POSTs answered 503 (not counted)")
	fs.Float64Var(&cfg.Faults.ThrottleRate, "throttle-rate", 0, "fraction of POSTs answered 429 with Retry-After (not counted)")
	fs.DurationVar(&cfg.Faults.RetryAfter, "retry-after", time.Second, "Retry-After of a 429, rounded up to whole seconds")
	fs.Float64Var(&cfg.Faults.DropRate, "drop-rate", 0, "fraction of POSTs counted, then dropped without an answer")
	fs.DurationVar(&cfg.Faults.Slow, "slow", 0, "delay of an answer, after counting (0: none)")
	fs.Float64Var(&cfg.Faults.SlowRate, "slow-rate", 1, "fraction of POSTs delayed by --slow")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the fault draws (0: random)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cli.BindEnvs(fs, map[string]string{
		"addr": "RECEIVER_ADDR", "fail-rate": "RECEIVER_FAIL_RATE", "throttle-rate": "RECEIVER_THROTTLE_RATE",
		"retry-after": "RECEIVER_RETRY_AFTER", "drop-rate": "RECEIVER_DROP_RATE", "slow": "RECEIVER_SLOW",
		"slow-rate": "RECEIVER_SLOW_RATE", "seed": "RECEIVER_SEED", "log-level": "LOG_LEVEL",
	})
	return cmd
}
