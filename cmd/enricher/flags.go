package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const envAnnotation = "env"

// bindEnv makes flag name also read the environment variable env; a flag
// given on the command line wins. The variable is shown in --help.
func bindEnv(fs *pflag.FlagSet, name, env string) {
	f := fs.Lookup(name)
	if f == nil {
		panic("bindEnv: no flag " + name)
	}
	f.Usage += " [$" + env + "]"
	_ = fs.SetAnnotation(name, envAnnotation, []string{env})
}

// applyEnv sets every flag not given on the command line from its variable.
func applyEnv(cmd *cobra.Command, _ []string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		envs := f.Annotations[envAnnotation]
		if err != nil || f.Changed || len(envs) == 0 {
			return
		}
		v, ok := os.LookupEnv(envs[0])
		if !ok || v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("invalid value %q for --%s (from $%s): %v", v, f.Name, envs[0], e)
		}
	})
	return err
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "enricher",
		Short: "Keep a live view of Postgres content from Debezium and enrich engagement events with it",
		Long: `enricher keeps a local, durable copy of the Postgres "content" table, fed by
Debezium change events through Kafka, and joins engagement events with it.

Every flag also reads the environment variable shown beside it; a flag given
on the command line wins.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newDemoCmd(), newCaptureCmd(), newDatagenCmd(), newBackfillCmd(), newSinkCmd(), newReceiverCmd(), newBenchCmd())
	return root
}
