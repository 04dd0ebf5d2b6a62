package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testproc"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testredis"
	"github.com/thmanyah/enricher/tools/receiver"
)

// TestRunRefusesABadConfig checks Run refuses a Config value with a
// *FieldError naming the field, before it starts anything (nothing is
// written to out).
func TestRunRefusesABadConfig(t *testing.T) {
	service := func(ServiceEnv) (Service, error) { panic("the service was opened") }
	good := Config{Rate: 10, UpdateRate: 0, StatusEvery: time.Second, Service: service}
	for _, tc := range []struct {
		name      string
		modify    func(*Config)
		wantField string // "": not a *FieldError
		want      string // the *FieldError's message, or else the error's
	}{
		{"zero rate", func(c *Config) { c.Rate = 0 }, "Rate", "must be positive"},
		{"negative rate", func(c *Config) { c.Rate = -5 }, "Rate", "must be positive"},
		{"rate not a number", func(c *Config) { c.Rate = math.NaN() }, "Rate", "must be positive"},
		{"infinite rate", func(c *Config) { c.Rate = math.Inf(1) }, "Rate", "must be positive"},
		{"negative update rate", func(c *Config) { c.UpdateRate = -1 }, "UpdateRate", "must not be negative (0: no content changes)"},
		{"update rate not a number", func(c *Config) { c.UpdateRate = math.NaN() }, "UpdateRate", "must not be negative (0: no content changes)"},
		{"no status interval", func(c *Config) { c.StatusEvery = 0 }, "StatusEvery", "must be positive"},
		{"negative status interval", func(c *Config) { c.StatusEvery = -time.Second }, "StatusEvery", "must be positive"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "Duration", "must not be negative (0: until Ctrl-C)"},
		{"no service", func(c *Config) { c.Service = nil }, "", "demo: no service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.modify(&cfg)
			var out bytes.Buffer
			err := Run(context.Background(), cfg, nil, &out)
			var fe *FieldError
			switch {
			case tc.wantField == "" && (err == nil || errors.As(err, &fe) || err.Error() != tc.want):
				t.Fatalf("got %v, want %q", err, tc.want)
			case tc.wantField != "" && (!errors.As(err, &fe) || fe.Field != tc.wantField || fe.Err.Error() != tc.want):
				t.Fatalf("got %v, want a *FieldError of %s saying %q", err, tc.wantField, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %q: it started something", out.String())
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var (
	consoleRe = regexp.MustCompile(`^console: http://(\S+)/  \(Ctrl-C to stop\)\n`)
	kafkaRe   = regexp.MustCompile(`(?m)^kafka \(in-process\) on (\S+)$`)
	redisRe   = regexp.MustCompile(`(?m)^redis-server \(temporary, no persistence\) on (\S+)$`)
	recvRe    = regexp.MustCompile(`(?m)^receiver \(stand-in external system\): http://(\S+)/stats$`)
	stopRe    = regexp.MustCompile(`(?m)^stopped after \S+: (\d+) events generated \((\d+) by datagen into .+ \+ (\d+) malformed injected\)`)
	rowRe     = regexp.MustCompile(`(?m)^  (joined|miss|held|dlq|not read|counted 2x|total) +(-?\d+)  `)
)

// rows reads the summary's rows; sum is the rows' sum but the total's.
func rows(t *testing.T, out string) (r map[string]int64, sum int64) {
	t.Helper()
	r = map[string]int64{}
	for _, m := range rowRe.FindAllStringSubmatch(out, -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		r[m[1]] = n
		if m[1] != "total" {
			sum += n
		}
	}
	for _, name := range []string{"joined", "miss", "held", "dlq", "total"} {
		if _, ok := r[name]; !ok {
			t.Errorf("the summary has no %q row:\n%s", name, out)
		}
	}
	return r, sum
}

// TestRunShowsEveryComponent runs the demo (no Postgres: the binary's test
// runs it with) for a few seconds with the real service and checks what it
// shows against the components themselves while it runs, then that the
// summary accounts for every generated event.
func TestRunShowsEveryComponent(t *testing.T) {
	_, noRedis := testredis.Binary()
	if noRedis != nil {
		t.Logf("skipping the Redis checks: %v", noRedis)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out testproc.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Config{Rate: 300, StatusEvery: 500 * time.Millisecond, Duration: 6 * time.Second,
			Seed: 1, NoPostgres: true, Service: newTestService(t)}, nil, &out)
	}()
	find := func(re *regexp.Regexp, what string) string {
		t.Helper()
		var m []string
		testkafka.Eventually(t, 20*time.Second, what, func() bool { m = re.FindStringSubmatch(out.String()); return m != nil })
		return m[1]
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(url string, v any) bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && (v == nil || json.NewDecoder(resp.Body).Decode(v) == nil)
	}

	console := find(consoleRe, "the console's URL as the first line")
	testkafka.Eventually(t, 20*time.Second, "GET / answering 200", func() bool { return get("http://"+console+"/", nil) })
	recv := find(recvRe, "the receiver's address")
	testkafka.Eventually(t, 20*time.Second, "deliveries to the receiver", func() bool {
		var st receiver.Stats
		return get("http://"+recv+"/stats", &st) && st.Events > 0
	})
	if noRedis == nil {
		rdb := redis.NewClient(&redis.Options{Addr: find(redisRe, "the redis-server's address")})
		defer rdb.Close()
		testkafka.Eventually(t, 20*time.Second, "members in engagement:top:10m", func() bool {
			n, err := rdb.ZCard(context.Background(), "engagement:top:10m").Result()
			return err == nil && n > 0
		})
	} else if !strings.Contains(out.String(), "redis: skipped") {
		t.Errorf("no redis-server, and the demo did not say it skipped Redis:\n%s", out.String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(find(kafkaRe, "the kafka address")), kgo.ConsumeTopics(kafkax.TopicDLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{} // key -> dlq.stage
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	for len(keys) < len(malformed) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			hs := map[string]string{}
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			if hs["dlq.source.topic"] == kafkax.TopicEngagement {
				keys[string(r.Key)] = hs["dlq.stage"]
			}
		})
	}
	cancel()
	cl.Close()
	for i := range malformed {
		if k := fmt.Sprintf("demo-malformed-%d", i+1); keys[k] == "" {
			t.Errorf("%s (%s) is not in %s: got %v", k, malformed[i].why, kafkax.TopicDLQ, keys)
		}
	}

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("Run did not return within 60s of its 6s\n%s", out.String())
	}
	got := out.String()
	m := stopRe.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no summary:\n%s", got)
	}
	generated, _ := strconv.ParseInt(m[1], 10, 64)
	datagen, _ := strconv.ParseInt(m[2], 10, 64)
	injected, _ := strconv.ParseInt(m[3], 10, 64)
	if injected != int64(len(malformed)) || generated != datagen+injected || datagen == 0 {
		t.Errorf("generated %d = datagen %d + injected %d: want the sum, %d injected, some generated", generated, datagen, injected, len(malformed))
	}
	r, sum := rows(t, got)
	// The remainder row makes any run add up; a drained one needs none.
	if _, twice := r["counted 2x"]; sum != generated || r["total"] != generated || r["not read"] != 0 || twice {
		t.Errorf("the rows add up to %d, the total says %d, want the %d generated with nothing left unread:\n%s", sum, r["total"], generated, got)
	}
	if r["dlq"] < injected || r["joined"] == 0 {
		t.Errorf("got dlq %d and joined %d, want the injected in the dlq and some joined:\n%s", r["dlq"], r["joined"], got)
	}
	for _, want := range []string{"first enriched event after ", "first external delivery after ", "status line: in = "} {
		if !strings.Contains(got, want) {
			t.Errorf("the output does not say %q:\n%s", want, got)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

// TestSummary checks the summary against golden files (go test -update
// rewrites them) and that its rows add up to the generated total in every
// case: drained, still in flight, counted twice, without Redis.
func TestSummary(t *testing.T) {
	base := summary{elapsed: 12340 * time.Millisecond, datagen: 2400, target: "postgres", injected: 4, drained: true,
		top: 10, delivered: 2390, batches: 600, dlqTopic: 4,
		c: counts{joined: 2380, miss: 15, noContentID: 5, engDLQ: 4, skipped: 8, rows: 200}}
	for _, tc := range []struct {
		name   string
		modify func(*summary)
	}{
		{"drained", func(*summary) {}},
		{"in flight", func(s *summary) { s.drained, s.c.joined, s.c.held = false, 2300, 30 }},
		{"counted twice", func(s *summary) { s.c.joined, s.c.already = 2390, 3 }},
		{"no redis", func(s *summary) { s.top, s.dlqTopic = -1, -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.modify(&s)
			var b bytes.Buffer
			s.write(&b)
			r, sum := rows(t, b.String())
			if sum != s.generated() || r["total"] != s.generated() {
				t.Errorf("rows add up to %d, total %d, want %d:\n%s", sum, r["total"], s.generated(), b.String())
			}
			golden := filepath.Join("testdata", "summary_"+strings.ReplaceAll(tc.name, " ", "_")+".golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("got\n%s\nwant (%s)\n%s", b.String(), golden, want)
			}
		})
	}
}

// TestStartRedis checks the demo's redis-server: it answers, and once
// stopped it no longer does and its directory is gone.
func TestStartRedis(t *testing.T) {
	if _, err := testredis.Binary(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	s, why := startRedis(context.Background())
	if s == nil {
		t.Fatalf("no redis-server: %s", why)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	s.stop()
	if err := rdb.Ping(context.Background()).Err(); err == nil {
		t.Errorf("redis-server at %s still answers after stop", s.addr)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("its directory %s: got %v, want it gone", s.dir, err)
	}
}
