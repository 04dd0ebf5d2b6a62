package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// describedCommand is one command of the binary as `enricher describe`
// prints it: what deployment files (docker-compose.yml, the Dockerfile) may
// rely on, read from the real command tree rather than copied into tests.
type describedCommand struct {
	// Path is the command path without the binary's name: "run", "sink redis".
	Path     string   `json:"path"`
	Aliases  []string `json:"aliases,omitempty"`
	Hidden   bool     `json:"hidden,omitempty"`
	Runnable bool     `json:"runnable"`
	// Flags are the command's own flags and those it inherits, by name.
	Flags []describedFlag `json:"flags"`
	// Args is what is left of describe's arguments once the command they
	// name is found (only when describe is given arguments).
	Args []string `json:"args,omitempty"`
}

type describedFlag struct {
	Name      string `json:"name"`
	Shorthand string `json:"shorthand,omitempty"`
	// Type is pflag's name for the value's type: string, int, bool, duration...
	Type    string `json:"type"`
	Default string `json:"default"`
	// NoOptDefault is the value the flag takes when given without one
	// ("true" for a bool).
	NoOptDefault string `json:"no_opt_default,omitempty"`
	// Env is the variable the flag reads when not given on the command line.
	Env string `json:"env,omitempty"`
	// Value is the flag's value with describe's environment and no flag on
	// the command line; EnvError says why Env's value was refused.
	Value    string `json:"value"`
	EnvError string `json:"env_error,omitempty"`
	Usage    string `json:"usage"`
}

// NewDescribeCmd is a hidden command for the deployment tests (deploy/):
// it prints the command tree as JSON, so that docker-compose.yml's commands,
// flags and variables are checked against the binary itself.
func NewDescribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe [COMMAND [ARG...]]",
		Short: "Print the commands, their flags and the variables they read, as JSON",
		Long: `describe prints every command of the binary as JSON: its path ("run",
"sink redis"), and each flag's name, type, default, the environment variable it
reads, and the value it would take in describe's own environment.

Given arguments, describe finds the command they run, as the binary would
(flags and their values are skipped), and prints that command alone with the
arguments left over; it fails when they name no command.`,
		Hidden:             true,
		Args:               cobra.ArbitraryArgs,
		DisableFlagParsing: true, // the arguments are another command's
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
				return cmd.Help()
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			root := cmd.Root()
			if len(args) == 0 {
				var all []describedCommand
				walkCommands(root, func(c *cobra.Command) {
					if c != root {
						all = append(all, describeCommand(c))
					}
				})
				return enc.Encode(struct {
					Commands []describedCommand `json:"commands"`
				}{all})
			}
			found, rest, err := root.Find(args)
			if err != nil {
				return err
			}
			if found == root {
				return fmt.Errorf("%q names no command of %s", strings.Join(args, " "), root.Name())
			}
			d := describeCommand(found)
			d.Args = rest
			return enc.Encode(d)
		},
	}
}

func walkCommands(c *cobra.Command, visit func(*cobra.Command)) {
	visit(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, visit)
	}
}

func describeCommand(c *cobra.Command) describedCommand {
	path := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), c.Root().Name()), " ")
	d := describedCommand{Path: path, Aliases: c.Aliases, Hidden: c.Hidden, Runnable: c.Runnable(), Flags: []describedFlag{}}
	seen := map[string]bool{}
	visit := func(f *pflag.Flag) {
		if seen[f.Name] {
			return
		}
		seen[f.Name] = true
		d.Flags = append(d.Flags, describeFlag(f))
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	sort.Slice(d.Flags, func(i, j int) bool { return d.Flags[i].Name < d.Flags[j].Name })
	return d
}

// describeFlag reads the flag's variable with applyEnv itself, on a
// throwaway command holding only this flag, so that describe's values follow
// whatever rules the binary's commands follow. The flag is shared with the
// real command, but describe's process exits after printing.
func describeFlag(f *pflag.Flag) describedFlag {
	d := describedFlag{Name: f.Name, Shorthand: f.Shorthand, Type: f.Value.Type(), Default: f.DefValue,
		NoOptDefault: f.NoOptDefVal, Usage: f.Usage}
	if envs := f.Annotations[EnvAnnotation]; len(envs) > 0 {
		d.Env = envs[0]
		one := &cobra.Command{}
		one.Flags().AddFlag(f)
		if err := ApplyEnv(one, nil); err != nil {
			d.EnvError = err.Error()
		}
	}
	d.Value = f.Value.String()
	return d
}
