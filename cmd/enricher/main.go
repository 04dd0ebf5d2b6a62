// Command enricher keeps a local view of the Postgres content table, fed by
// Debezium, and enriches engagement events with it. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/thmanyah/enricher/internal/cli"
	"go.uber.org/zap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		// One line, so it is the last thing an operator sees and can grep for.
		fmt.Fprintf(os.Stderr, "enricher: %v\n", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "enricher",
		Short: "Keep a live view of Postgres content from Debezium and enrich engagement events with it",
		Long: `enricher keeps a local, durable copy of the Postgres "content" table, fed by
Debezium change events through Kafka, and joins engagement events with it.

Every flag also reads the environment variable shown beside it; a flag given
on the command line wins. A variable set to the empty string counts as set:
it means what the flag given empty means.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newDemoCmd(), newCaptureCmd(), newDatagenCmd(), newBackfillCmd(), newSinkCmd(), newDLQCmd(), newReceiverCmd(), newBenchCmd(), cli.NewDescribeCmd())
	return root
}

// runWithBrokers is the RunE of a command that takes --brokers and a
// package's Config: the broker list into *dst, the logger, then run, whose
// refusal of a Config field is named by the flag that sets it.
func runWithBrokers(brokers, logLevel *string, dst *[]string, run func(context.Context, *zap.Logger) error) func(*cobra.Command, []string) error {
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
