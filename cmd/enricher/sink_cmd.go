package main

import (
	"errors"

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

// stub returns a placeholder command until its issue replaces it.
func stub(use string) *cobra.Command {
	return &cobra.Command{Use: use, Short: use + " (not built yet)", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New(use + " is not built yet") }}
}
