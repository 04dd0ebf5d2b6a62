package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/promq"
	"github.com/thmanyah/enricher/internal/testkafka"
)

// TestDemoFlags checks the demo refuses settings that would make it do
// nothing (or nonsense) with one line naming the flag, before it starts
// anything.
func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"zero rate", []string{"--rate", "0"}, "--rate: must be positive"},
		{"negative rate", []string{"--rate", "-5"}, "--rate: must be positive"},
		{"rate not a number", []string{"--rate", "NaN"}, "--rate: must be positive"},
		{"negative update rate", []string{"--update-rate", "-1"}, "--update-rate: must not be negative (0: no content changes)"},
		{"zero status interval", []string{"--status-every", "0s"}, "--status-every: must be positive"},
		{"negative status interval", []string{"--status-every", "-1s"}, "--status-every: must be positive"},
		{"negative duration", []string{"--duration", "-1s"}, "--duration: must not be negative (0: until Ctrl-C)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(append([]string{"demo", "--no-postgres"}, tc.args...))
			err := root.ExecuteContext(context.Background())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("output %q: the demo started something", out.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer the demo writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	demoKafkaRe = regexp.MustCompile(`kafka \(in-process\) on (\S+)`)
	demoHTTPRe  = regexp.MustCompile(`enricher: http://(\S+)/debug/stats`)
	demoStopRe  = regexp.MustCompile(`(?m)^stopped: (\d+) events generated, (\d+) enriched`)
)

// TestDemoStopsEverything runs `enricher demo` until the service has
// enriched events and printed a status line (or until the service fails
// to start), ends it, and checks doc.go's guarantee: the in-process Kafka
// and the HTTP server no longer answer, and no temporary directory (the
// service's data dir, the Postgres cluster) is left.
func TestDemoStopsEverything(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name     string
		args     []string
		postgres bool   // needs the Postgres server binaries
		wantErr  string // "": runs until cancelled
	}{
		{"synthetic records straight to kafka", []string{"--no-postgres"}, false, ""},
		{"postgres, capture and datagen", nil, true, ""},
		{"the service cannot start", []string{"--no-postgres", "--http-addr", busy.Addr().String()}, false, "(is the port in use?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pgtemp.BinDir(); tc.postgres && err != nil {
				t.Skip("no PostgreSQL server binaries; .ci/run installs them")
			}
			// A TMPDIR of its own, open to the postgres user, to see what is left.
			tmp, err := os.MkdirTemp("", "demo-test-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(tmp) })
			if err := os.Chmod(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("TMPDIR", tmp)

			root := newRootCmd()
			var out syncBuffer
			root.SetOut(&out)
			root.SetArgs(append([]string{"demo", "--http-addr", "127.0.0.1:0", "--rate", "500", "--update-rate", "2",
				"--status-every", "100ms", "--log-level", "error"}, tc.args...))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- root.ExecuteContext(ctx) }()

			if tc.wantErr == "" {
				testkafka.Eventually(t, 90*time.Second, "enriched events and a status line", func() bool {
					m := demoHTTPRe.FindStringSubmatch(out.String())
					if m == nil || !strings.Contains(out.String(), "join hits") {
						return false
					}
					mfs, err := promq.Scrape(ctx, "http://"+m[1]+"/metrics")
					if err != nil {
						return false
					}
					var n float64
					for _, c := range mfs["enricher_events_total"].GetMetric() {
						n += c.GetCounter().GetValue()
					}
					return n > 0
				})
				cancel()
			}
			select {
			case err := <-done:
				if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
					t.Fatalf("got %v, want %q (empty: nil)\n%s", err, tc.wantErr, out.String())
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("the demo did not return within 60s\n%s", out.String())
			}

			got := out.String()
			if m := demoStopRe.FindStringSubmatch(got); tc.wantErr == "" && (m == nil || m[2] == "0") {
				t.Errorf("want a summary with enriched events:\n%s", got)
			}
			if m := demoKafkaRe.FindStringSubmatch(got); m == nil {
				t.Errorf("the demo did not say where Kafka was:\n%s", got)
			} else if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
				c.Close()
				t.Errorf("the in-process kafka at %s still answers", m[1])
			}
			if m := demoHTTPRe.FindStringSubmatch(got); m != nil {
				if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
					c.Close()
					t.Errorf("the service at %s still answers", m[1])
				}
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range left {
				t.Errorf("left behind in TMPDIR: %s", e.Name())
			}
		})
	}
}
