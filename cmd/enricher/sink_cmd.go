package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	redissink "github.com/thmanyah/enricher/sink/redis"
)

func newSinkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Fan enriched records out: Redis top content, an external HTTP system",
	}
	cmd.AddCommand(newSinkRedisCmd(), newSinkHTTPCmd())
	return cmd
}

// fieldAnnotation names, on a sink's flag, the field of the sink's Config
// the flag sets.
const fieldAnnotation = "config-field"

// bindSinkFlags binds each flag to its variable and to its Config field:
// bindings maps a flag's name to {variable, field} (field empty for a flag
// the sink's Config does not hold).
func bindSinkFlags(fs *pflag.FlagSet, bindings map[string][2]string) {
	for flag, b := range bindings {
		bindEnv(fs, flag, b[0])
		if b[1] != "" {
			_ = fs.SetAnnotation(flag, fieldAnnotation, []string{b[1]})
		}
	}
}

// sinkFlagError turns a sink's refusal of a Config field (a *FieldError,
// the same type in both sink packages) into an error naming the flag that
// sets the field and its variable; other errors are returned as they are.
func sinkFlagError(cmd *cobra.Command, err error) error {
	fe, ok := errors.AsType[*redissink.FieldError](err)
	if !ok {
		return err
	}
	var named error = err
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if fields := f.Annotations[fieldAnnotation]; len(fields) == 1 && fields[0] == fe.Field {
			if envs := f.Annotations[envAnnotation]; len(envs) == 1 {
				named = flagError(f.Name, envs[0], fe.Err.Error())
			}
		}
	})
	return named
}
