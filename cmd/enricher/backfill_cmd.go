package main

import "github.com/spf13/cobra"

// newBackfillCmd is replaced by the backfill loader.
func newBackfillCmd() *cobra.Command { return stub("backfill") }
