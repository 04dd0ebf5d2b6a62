package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newCaptureCmd is replaced by the capture issue's command.
func newCaptureCmd() *cobra.Command {
	return &cobra.Command{Use: "capture", Short: "Development CDC (not built yet)", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New("capture is not built yet") }}
}
