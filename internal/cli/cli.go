package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/thmanyah/enricher/internal/field"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// BindEnvs binds each flag of fs named in envs to its variable (BindEnv).
func BindEnvs(fs *pflag.FlagSet, envs map[string]string) {
	for flag, env := range envs {
		BindEnv(fs, flag, env)
	}
}

// EnvAnnotation is the flag annotation that holds the variable a flag reads.
const EnvAnnotation = "env"

// BindEnv makes flag name also read the environment variable env; a flag
// given on the command line wins. The variable is shown in --help.
func BindEnv(fs *pflag.FlagSet, name, env string) {
	f := fs.Lookup(name)
	if f == nil {
		panic("BindEnv: no flag " + name)
	}
	f.Usage += " [$" + env + "]"
	_ = fs.SetAnnotation(name, EnvAnnotation, []string{env})
}

// FlagEnv returns the variable bound to f and its value, and whether it is
// set. A variable set to the empty string is set: it means what the flag
// given empty means (`KAFKA_BROKERS=` is `--brokers ""`), never "use the
// default".
func FlagEnv(f *pflag.Flag) (env, value string, set bool) {
	envs := f.Annotations[EnvAnnotation]
	if len(envs) == 0 {
		return "", "", false
	}
	value, set = os.LookupEnv(envs[0])
	return envs[0], value, set
}

// ApplyEnv sets every flag not given on the command line from its variable,
// when that is set, even to the empty string.
func ApplyEnv(cmd *cobra.Command, _ []string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		env, v, ok := FlagEnv(f)
		if !ok {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("invalid value %q for --%s (from $%s): %v", v, f.Name, env, e)
		}
	})
	return err
}

// ParseBrokers splits a --brokers value (comma-separated, blanks around
// entries ignored) and checks that every entry is host:port. An empty value
// gives no brokers and no error: whether brokers are required is the
// command's to say.
func ParseBrokers(s string) ([]string, error) {
	brokers := SplitList(s)
	for i, b := range brokers {
		// A bare host means port 9092, as kafka-go and Kafka's own tools read it.
		if _, _, err := net.SplitHostPort(b); err != nil && !strings.ContainsAny(b, ":[]") {
			brokers[i] = net.JoinHostPort(b, "9092")
		}
	}
	if err := CheckBrokers(brokers); err != nil {
		return nil, err
	}
	return brokers, nil
}

// CheckBrokers checks that every broker is host:port: a host without blanks
// and a port from 1 to 65535. The error is one line naming --brokers and
// $KAFKA_BROKERS and quoting the first entry that is not.
func CheckBrokers(brokers []string) error {
	for _, b := range brokers {
		if !isHostPort(b) {
			return FlagError("brokers", "KAFKA_BROKERS", fmt.Sprintf("%q is not host:port", b))
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

func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// FlagError names the flag and its variable, so the one-line fatal error says what to fix.
func FlagError(flag, env, problem string) error {
	if env == "" {
		return fmt.Errorf("--%s: %s", flag, problem)
	}
	return fmt.Errorf("--%s ($%s): %s", flag, env, problem)
}

func NewLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, FlagError("log-level", "LOG_LEVEL", fmt.Sprintf("%q is not one of debug, info, warn, error", level))
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.Sampling = nil
	return cfg.Build()
}

// FieldAnnotation is the flag annotation that names the field of a
// package's Config the flag sets, so that a refusal of that field can name
// the flag (FieldFlagError).
const FieldAnnotation = "config-field"

// BindFields binds each flag to its variable and to its Config field:
// bindings maps a flag's name to {variable, field} (variable empty for a flag
// that reads none, field empty for a flag the Config does not hold).
func BindFields(fs *pflag.FlagSet, bindings map[string][2]string) {
	for flag, b := range bindings {
		if b[0] != "" {
			BindEnv(fs, flag, b[0])
		}
		if b[1] != "" {
			_ = fs.SetAnnotation(flag, FieldAnnotation, []string{b[1]})
		}
	}
}

// NameField turns a package's refusal of a Config field (a *field.Error)
// into an error naming the flag of cmd that sets the field (BindFields), and
// its variable; any other error is returned as it is.
func NameField(cmd *cobra.Command, err error) error {
	fe, ok := errors.AsType[*field.Error](err)
	if !ok {
		return err
	}
	named := err
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if fields := f.Annotations[FieldAnnotation]; len(fields) == 1 && fields[0] == fe.Field {
			env := ""
			if envs := f.Annotations[EnvAnnotation]; len(envs) == 1 {
				env = envs[0]
			}
			named = FlagError(f.Name, env, fe.Err.Error())
		}
	})
	return named
}
