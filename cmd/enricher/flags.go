package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"unicode"

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

// flagEnv returns the variable bound to f and its value, and whether it is
// set. A variable set to the empty string is set: it means what the flag
// given empty means (`KAFKA_BROKERS=` is `--brokers ""`), never "use the
// default".
func flagEnv(f *pflag.Flag) (env, value string, set bool) {
	envs := f.Annotations[envAnnotation]
	if len(envs) == 0 {
		return "", "", false
	}
	value, set = os.LookupEnv(envs[0])
	return envs[0], value, set
}

// applyEnv sets every flag not given on the command line from its variable,
// when that is set, even to the empty string.
func applyEnv(cmd *cobra.Command, _ []string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		env, v, ok := flagEnv(f)
		if !ok {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("invalid value %q for --%s (from $%s): %v", v, f.Name, env, e)
		}
	})
	return err
}

// parseBrokers splits a --brokers value (comma-separated, blanks around
// entries ignored) and checks that every entry is host:port. An empty value
// gives no brokers and no error: whether brokers are required is the
// command's to say.
func parseBrokers(s string) ([]string, error) {
	brokers := splitList(s)
	if err := checkBrokers(brokers); err != nil {
		return nil, err
	}
	return brokers, nil
}

// checkBrokers checks that every broker is host:port: a host without blanks
// and a port from 1 to 65535. The error is one line naming --brokers and
// $KAFKA_BROKERS and quoting the first entry that is not.
func checkBrokers(brokers []string) error {
	for _, b := range brokers {
		if !isHostPort(b) {
			return flagError("brokers", "KAFKA_BROKERS", fmt.Sprintf("%q is not host:port", b))
		}
	}
	return nil
}

func isHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.IndexFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n >= 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "enricher",
		Short: "Keep a live view of Postgres content from Debezium and enrich engagement events with it",
		Long: `enricher keeps a local, durable copy of the Postgres "content" table, fed by
Debezium change events through Kafka, and joins engagement events with it.

Every flag also reads the environment variable shown beside it; a flag given
on the command line wins. A variable set to the empty string counts as set:
it means what the flag given empty means.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newDemoCmd(), newCaptureCmd(), newDatagenCmd(), newBackfillCmd(), newSinkCmd(), newReceiverCmd(), newBenchCmd(), newDescribeCmd())
	return root
}
