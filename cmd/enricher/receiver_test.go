package main

import (
	"context"
	"net"
	"strings"
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

// TestReceiverPortInUse checks `enricher receiver` says, naming --addr,
// that it cannot listen on a port another process holds.
func TestReceiverPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	root := newRootCmd()
	root.SetArgs([]string{"receiver", "--addr", busy.Addr().String()})
	err = root.ExecuteContext(context.Background())
	wantPrefix, wantSuffix := `--addr ($RECEIVER_ADDR): listen on "`+busy.Addr().String()+`": `, " (is the port in use?)"
	if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.HasSuffix(err.Error(), wantSuffix) {
		t.Fatalf("got %v, want %q...%q", err, wantPrefix, wantSuffix)
	}
}
