package main

import "github.com/spf13/cobra"

// newSinkHTTPCmd is replaced by the HTTP sink.
func newSinkHTTPCmd() *cobra.Command { return stub("http") }
