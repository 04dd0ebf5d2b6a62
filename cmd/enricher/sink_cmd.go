package main

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/thmanyah/enricher/internal/cli"
	"go.uber.org/zap"
)

func newSinkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Fan enriched records out: Redis top content, an external HTTP system",
	}
	cmd.AddCommand(newSinkRedisCmd(), newSinkHTTPCmd())
	return cmd
}

// runSink is a sink command's RunE: the broker list into *dst, the logger,
// then run, whose refusal of a Config field is named by the flag that sets it.
func runSink(brokers, logLevel *string, dst *[]string, run func(context.Context, *zap.Logger) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		var err error
		if *dst, err = cli.ParseBrokers(*brokers); err != nil {
			return err
		}
		log, err := cli.NewLogger(*logLevel)
		if err != nil {
			return err
		}
		defer func() { _ = log.Sync() }()
		return cli.NameField(cmd, run(cmd.Context(), log))
	}
}
