package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDatagenCmd is replaced by the datagen issue's command.
func newDatagenCmd() *cobra.Command {
	return &cobra.Command{Use: "datagen", Short: "Data generator (not built yet)", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New("datagen is not built yet") }}
}
