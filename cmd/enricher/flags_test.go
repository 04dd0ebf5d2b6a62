package main

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/thmanyah/enricher/internal/cli"
)

func TestBrokersFlag(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
		wantErr     string
	}{
		{name: "one", value: "kafka:9092", want: []string{"kafka:9092"}},
		{name: "list with blanks", value: " a:1 , b:65535 ,", want: []string{"a:1", "b:65535"}},
		{name: "ipv6", value: "[::1]:9092", want: []string{"[::1]:9092"}},
		{name: "empty is the command's to judge", value: ""},
		{name: "not host:port", value: "not a broker:::", wantErr: `--brokers ($KAFKA_BROKERS): "not a broker:::" is not host:port`},
		{name: "no port means 9092, as kafka-go reads it", value: "kafka", want: []string{"kafka:9092"}},
		{name: "no host", value: ":9092", wantErr: `--brokers ($KAFKA_BROKERS): ":9092" is not host:port`},
		{name: "port zero", value: "kafka:0", wantErr: `--brokers ($KAFKA_BROKERS): "kafka:0" is not host:port`},
		{name: "port too big", value: "kafka:65536", wantErr: `--brokers ($KAFKA_BROKERS): "kafka:65536" is not host:port`},
		{name: "port not a number", value: "kafka:http", wantErr: `--brokers ($KAFKA_BROKERS): "kafka:http" is not host:port`},
		{name: "blank in host", value: "my kafka:9092", wantErr: `--brokers ($KAFKA_BROKERS): "my kafka:9092" is not host:port`},
		{name: "second entry bad", value: "a:1,b:x", wantErr: `--brokers ($KAFKA_BROKERS): "b:x" is not host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cli.ParseBrokers(tc.value)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %v, %v, want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

// clearRunEnv unsets every variable `enricher run` reads, for the test.
func clearRunEnv(t *testing.T) {
	t.Helper()
	newRunCmd().Flags().VisitAll(func(f *pflag.Flag) {
		if env, _, _ := cli.FlagEnv(f); env != "" {
			t.Setenv(env, "")
			_ = os.Unsetenv(env)
		}
	})
}

// execRun runs `enricher run args` with env set, under a context that has
// already ended: a configuration that passes validation makes Run return at
// once instead of serving.
func execRun(t *testing.T, env map[string]string, args ...string) error {
	t.Helper()
	clearRunEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	cmd := newRunCmd()
	cmd.SetArgs(append([]string{"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0"}, args...))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return cmd.ExecuteContext(ctx)
}

// TestBrokersFlagOnTheCommand: `enricher run` rejects a broker that is not
// host:port with one line naming the flag and the variable, whichever set it.
func TestBrokersFlagOnTheCommand(t *testing.T) {
	want := `--brokers ($KAFKA_BROKERS): "not a broker:::" is not host:port`
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{name: "flag", args: []string{"--brokers", "not a broker:::"}},
		{name: "variable", env: map[string]string{"KAFKA_BROKERS": "not a broker:::"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := execRun(t, tc.env, tc.args...); err == nil || err.Error() != want {
				t.Fatalf("got %v, want %q", err, want)
			}
		})
	}
}

// TestEnvEmptyIsLikeFlagEmpty: a variable that is set but empty is applied
// as the flag given empty, never as "use the default".
func TestEnvEmptyIsLikeFlagEmpty(t *testing.T) {
	for _, tc := range []struct {
		name, flag, env string
		wantErr         string // in both errors; "" when the value is valid
		sameError       bool   // the two errors are the same line
	}{
		{name: "no brokers", flag: "brokers", env: "KAFKA_BROKERS", wantErr: "--brokers ($KAFKA_BROKERS): no broker given", sameError: true},
		{name: "no content topic", flag: "content-topic", env: "CONTENT_TOPIC", wantErr: "--content-topic ($CONTENT_TOPIC): empty", sameError: true},
		{name: "no group", flag: "group", env: "CONSUMER_GROUP", wantErr: "--group ($CONSUMER_GROUP): empty", sameError: true},
		{name: "no events topics", flag: "events-topics", env: "EVENTS_TOPICS", wantErr: "--events-topics ($EVENTS_TOPICS): no topic given", sameError: true},
		{name: "no output topic", flag: "output-topic", env: "OUTPUT_TOPIC", wantErr: "--output-topic ($OUTPUT_TOPIC): empty", sameError: true},
		// pflag rejects the empty duration as it parses the command line; the
		// variable's error says which variable held it.
		{name: "no join wait", flag: "join-wait", env: "JOIN_WAIT", wantErr: "join-wait"},
		{name: "no schema registry", flag: "schema-registry-url", env: "SCHEMA_REGISTRY_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantErr == "" {
				// A valid value: compare the flags as they would run, without running.
				var values [2]string
				for i, args := range [][]string{{"--" + tc.flag, ""}, nil} {
					clearRunEnv(t)
					if args == nil {
						t.Setenv(tc.env, "")
					}
					cmd := newRunCmd()
					if err := cmd.ParseFlags(args); err != nil {
						t.Fatal(err)
					}
					if err := cli.ApplyEnv(cmd, nil); err != nil {
						t.Fatalf("$%s=: %v", tc.env, err)
					}
					values[i] = cmd.Flags().Lookup(tc.flag).Value.String()
				}
				if values[0] != "" || values[1] != "" {
					t.Fatalf("got --%s %q from the flag and %q from $%s=, want both empty", tc.flag, values[0], values[1], tc.env)
				}
				return
			}
			flagErr := execRun(t, nil, "--"+tc.flag, "")
			envErr := execRun(t, map[string]string{tc.env: ""})
			for _, err := range []error{flagErr, envErr} {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v (flag) and %v ($%s), want both to contain %q", flagErr, envErr, tc.env, tc.wantErr)
				}
			}
			if tc.sameError && flagErr.Error() != envErr.Error() {
				t.Fatalf("$%s=: got %q, want %q as --%s \"\"", tc.env, envErr, flagErr, tc.flag)
			}
			if !tc.sameError && !strings.Contains(envErr.Error(), "$"+tc.env) {
				t.Fatalf("$%s=: got %q, want it to name $%s", tc.env, envErr, tc.env)
			}
		})
	}
}
