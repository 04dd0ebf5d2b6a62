package main

import "github.com/spf13/cobra"

// newSinkRedisCmd is replaced by the Redis sink.
func newSinkRedisCmd() *cobra.Command { return stub("redis") }
