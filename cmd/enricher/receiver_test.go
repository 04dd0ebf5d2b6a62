package main

import (
	"context"
	"testing"
)

// TestReceiverFlags checks `enricher receiver` refuses fault settings that
// make no sense with one line naming the flag, before listening.
func TestReceiverFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"address without a port", []string{"--addr", "localhost"}, `--addr ($RECEIVER_ADDR): "localhost" is not host:port`},
		{"rate above 1", []string{"--fail-rate", "1.5"}, "--fail-rate ($RECEIVER_FAIL_RATE): must be a fraction in [0,1]"},
		{"negative rate", []string{"--slow-rate", "-0.1"}, "--slow-rate ($RECEIVER_SLOW_RATE): must be a fraction in [0,1]"},
		{"rate not a number", []string{"--drop-rate", "NaN"}, "--drop-rate ($RECEIVER_DROP_RATE): must be a fraction in [0,1]"},
		{"rates adding up to more than 1", []string{"--fail-rate", "0.5", "--throttle-rate", "0.4", "--drop-rate", "0.2"},
			"--fail-rate ($RECEIVER_FAIL_RATE): fail, throttle and drop rates add up to more than 1"},
		{"negative delay", []string{"--slow", "-1s"}, "--slow ($RECEIVER_SLOW): must not be negative"},
		{"negative retry-after", []string{"--retry-after", "-1s"}, "--retry-after ($RECEIVER_RETRY_AFTER): must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRootCmd()
			root.SetArgs(append([]string{"receiver", "--addr", "127.0.0.1:0"}, tc.args...))
			if err := root.ExecuteContext(context.Background()); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
