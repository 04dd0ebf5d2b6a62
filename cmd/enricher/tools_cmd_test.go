package main

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// TestDatagenCaptureBenchFlags checks the tool commands refuse bad flags
// with one line naming the flag, before they connect to anything.
func TestDatagenCaptureBenchFlags(t *testing.T) {
	const badBrokers = `--brokers ($KAFKA_BROKERS): "kafka" is not host:port`
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"datagen: no target", []string{"datagen"}, "datagen: give exactly one of --pg-url ($PG_URL) and --brokers ($KAFKA_BROKERS)"},
		{"datagen: both targets", []string{"datagen", "--pg-url", "postgres://x@127.0.0.1:1/db", "--brokers", "127.0.0.1:1"},
			"datagen: give exactly one of --pg-url ($PG_URL) and --brokers ($KAFKA_BROKERS)"},
		{"datagen: bad brokers", []string{"datagen", "--brokers", "kafka"}, badBrokers},
		{"datagen: negative rate", []string{"datagen", "--brokers", "127.0.0.1:1", "--rate", "-1"}, "--rate ($DATAGEN_RATE): must not be negative"},
		{"datagen: negative update rate", []string{"datagen", "--brokers", "127.0.0.1:1", "--update-rate", "-1"},
			"--update-rate ($DATAGEN_UPDATE_RATE): must not be negative"},
		{"datagen: empty catalogue", []string{"datagen", "--brokers", "127.0.0.1:1", "--catalogue", "0"}, "--catalogue ($DATAGEN_CATALOGUE): must be at least 1"},
		{"datagen: negative duration", []string{"datagen", "--brokers", "127.0.0.1:1", "--duration", "-1s"}, "--duration ($DATAGEN_DURATION): must not be negative"},
		{"capture: no pg url", []string{"capture"}, "--pg-url ($PG_URL): required"},
		{"capture: bad brokers", []string{"capture", "--pg-url", "postgres://x@127.0.0.1:1/db", "--brokers", "kafka"}, badBrokers},
		{"bench: bad brokers", []string{"bench", "--brokers", "kafka"}, badBrokers},
		{"bench passthrough: bad brokers", []string{"bench", "passthrough", "--brokers", "kafka"}, badBrokers},
		{"backfill: bad brokers", []string{"backfill", "--brokers", "kafka"}, badBrokers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, env := range []string{"KAFKA_BROKERS", "PG_URL"} {
				t.Setenv(env, "") // restored when the test ends
				os.Unsetenv(env)
			}
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tc.args)
			if err := root.ExecuteContext(context.Background()); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("output %q, want none", out.String())
			}
		})
	}
}
