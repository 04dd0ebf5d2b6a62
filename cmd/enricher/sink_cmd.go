package main

import (
	"github.com/spf13/cobra"
)

func newSinkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Fan enriched records out: Redis top content, an external HTTP system",
	}
	cmd.AddCommand(newSinkRedisCmd(), newSinkHTTPCmd())
	return cmd
}
