package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testproc"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/promq"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testredis"
	"github.com/thmanyah/enricher/tools/receiver"
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

var (
	demoKafkaRe = regexp.MustCompile(`kafka \(in-process\) on (\S+)`)
	demoHTTPRe  = regexp.MustCompile(`(?m)^console: http://(\S+)/ `)
	demoRedisRe = regexp.MustCompile(`(?m)^redis-server \(temporary, no persistence\) on (\S+)`)
	demoRecvRe  = regexp.MustCompile(`(?m)^receiver \(stand-in external system\): http://(\S+)/stats`)
	demoStopRe  = regexp.MustCompile(`(?m)^stopped after \S+: (\d+) events generated \((\d+) by datagen into \S+ \+ (\d+) malformed injected\)`)
	demoRowRe   = regexp.MustCompile(`(?m)^  (joined|miss|held|dlq|not read|counted 2x|total) +(-?\d+)  `)
	demoJoinRe  = regexp.MustCompile(`(?m)^  joined +(\d+)  `)
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
		wantOut  string // a line the output must have; "": none in particular
	}{
		{"synthetic records straight to kafka", []string{"--no-postgres"}, false, "", ""},
		{"postgres, capture and datagen", nil, true, "", ""},
		{"no redis", []string{"--no-postgres", "--no-redis"}, false, "", "redis: skipped (--no-redis): no Redis sink\n"},
		{"the service cannot start", []string{"--no-postgres", "--http-addr", busy.Addr().String()}, false, "(is the port in use?)", ""},
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
			var out testproc.Buffer
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
			if !strings.Contains(got, tc.wantOut) {
				t.Errorf("the output does not say %q:\n%s", tc.wantOut, got)
			}
			if m := demoJoinRe.FindStringSubmatch(got); tc.wantErr == "" && (m == nil || m[1] == "0") {
				t.Errorf("want a summary with enriched events:\n%s", got)
			}
			if m := demoKafkaRe.FindStringSubmatch(got); m == nil {
				t.Errorf("the demo did not say where Kafka was:\n%s", got)
			} else if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
				c.Close()
				t.Errorf("the in-process kafka at %s still answers", m[1])
			}
			for what, re := range map[string]*regexp.Regexp{"the service": demoHTTPRe, "redis-server": demoRedisRe, "the receiver": demoRecvRe} {
				if m := re.FindStringSubmatch(got); m != nil {
					if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
						c.Close()
						t.Errorf("%s at %s still answers", what, m[1])
					}
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

// TestDemoShowsEveryComponent runs `enricher demo --duration` with every
// part (Postgres when its binaries are found, Redis when redis-server is)
// and checks what it shows against the components themselves, while it
// runs: the first line is the console's URL and it answers 200; the Redis
// sink's key has members; the receiver has deliveries; the DLQ topic holds
// the injected records. Then that the summary accounts for every generated
// event: its rows add up to the generated count.
func TestDemoShowsEveryComponent(t *testing.T) {
	_, noRedis := testredis.Binary()
	if noRedis != nil {
		t.Logf("skipping the Redis checks: %v", noRedis)
	}
	// A TMPDIR of its own, open to the postgres user (t.TempDir's parent
	// is not), to see what is left.
	tmp, err := os.MkdirTemp("", "demo-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	client := &http.Client{Timeout: 5 * time.Second}

	root := newRootCmd()
	var out testproc.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"demo", "--http-addr", "127.0.0.1:0", "--rate", "300", "--update-rate", "2",
		"--status-every", "500ms", "--duration", "8s", "--log-level", "error"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(context.Background()) }()
	find := func(re *regexp.Regexp, what string) string {
		t.Helper()
		var m []string
		testkafka.Eventually(t, 30*time.Second, what, func() bool { m = re.FindStringSubmatch(out.String()); return m != nil })
		return m[1]
	}

	console := find(demoHTTPRe, "the console's URL")
	if first, _, _ := strings.Cut(out.String(), "\n"); !demoHTTPRe.MatchString(first + "\n") {
		t.Errorf("first line %q, want the console's URL", first)
	}
	testkafka.Eventually(t, 30*time.Second, "GET / answering 200", func() bool {
		resp, err := client.Get("http://" + console + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	recv := find(demoRecvRe, "the receiver's address")
	testkafka.Eventually(t, 30*time.Second, "deliveries to the receiver", func() bool {
		resp, err := client.Get("http://" + recv + "/stats")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st receiver.Stats
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Events > 0
	})

	if noRedis == nil {
		rdb := redis.NewClient(&redis.Options{Addr: find(demoRedisRe, "the redis-server's address")})
		defer rdb.Close()
		testkafka.Eventually(t, 30*time.Second, "members in engagement:top:10m", func() bool {
			n, err := rdb.ZCard(context.Background(), "engagement:top:10m").Result()
			return err == nil && n > 0
		})
	} else if !strings.Contains(out.String(), "redis: skipped") {
		t.Errorf("no redis-server, and the demo did not say it skipped Redis:\n%s", out.String())
	}

	kafkaAddr := find(demoKafkaRe, "the kafka address")
	keys := map[string]bool{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.ConsumeTopics("enricher.dlq"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	for len(keys) < 4 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == "dlq.source.topic" && string(h.Value) == "thmanyah.public.engagement_events" &&
					strings.HasPrefix(string(r.Key), "demo-malformed-") {
					keys[string(r.Key)] = true
				}
			}
		})
	}
	cancel()
	cl.Close()
	if len(keys) != 4 {
		t.Errorf("got %d injected records in enricher.dlq (%v), want 4", len(keys), keys)
	}

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the demo did not stop within 60s of its 8s\n%s", out.String())
	}
	got := out.String()
	m := demoStopRe.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no summary:\n%s", got)
	}
	generated, datagen, injected := atoi(t, m[1]), atoi(t, m[2]), atoi(t, m[3])
	if injected != 4 || generated != datagen+injected || datagen == 0 {
		t.Errorf("generated %d = datagen %d + injected %d: want a sum, 4 injected and some generated", generated, datagen, injected)
	}
	rows := map[string]int{}
	sum := 0
	for _, r := range demoRowRe.FindAllStringSubmatch(got, -1) {
		rows[r[1]] = atoi(t, r[2])
		if r[1] != "total" {
			sum += rows[r[1]]
		}
	}
	for _, name := range []string{"joined", "miss", "held", "dlq", "total"} {
		if _, ok := rows[name]; !ok {
			t.Errorf("the summary has no %q row:\n%s", name, got)
		}
	}
	// The remainder row makes any run add up; a drained one needs none.
	if _, twice := rows["counted 2x"]; sum != generated || rows["total"] != generated || rows["not read"] != 0 || twice {
		t.Errorf("the summary's rows add up to %d, its total says %d, want the %d generated with nothing left unread:\n%s", sum, rows["total"], generated, got)
	}
	if rows["dlq"] < 4 || rows["joined"] == 0 {
		t.Errorf("got dlq %d and joined %d, want the 4 injected in the dlq and some joined:\n%s", rows["dlq"], rows["joined"], got)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
