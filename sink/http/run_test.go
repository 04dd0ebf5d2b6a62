package httpsink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/schemas"
	"github.com/thmanyah/enricher/tools/receiver"
)

// runConfig is a valid Config for brokers and url, listening on a free port.
func runConfig(brokers []string, url string) Config {
	return Config{
		URL: url, Brokers: brokers, Topic: testTopic, Group: "sink-http-run", DLQTopic: testDLQ,
		BatchSize: 50, Concurrency: 2, Timeout: 2 * time.Second, MaxRetries: 0, Linger: 10 * time.Millisecond,
		BreakerFailures: 5, BreakerCooldown: time.Second, HTTPAddr: "127.0.0.1:0",
	}
}

// eventually polls cond until it holds; on timeout it fails with cond's last word.
func eventually(t *testing.T, deadline time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s: %s", deadline, what, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}

// TestRunEndToEnd drives the running sink as `enricher sink http` does:
// Run creates the DLQ topic, serves /healthz and /metrics, delivers records
// to a receiver, dead-letters an undecodable one, and returns nil once its
// context ends.
func TestRunEndToEnd(t *testing.T) {
	kc := testkafka.New(t, kfake.GroupMinSessionTimeout(time.Second))
	kc.Topic(testTopic, 2, nil) // not the DLQ topic: Run creates it
	e := &env{t: t, kc: kc, parts: 2}
	var err error
	if e.enc, err = schemas.NewEncoder(0, schemas.FramingSingleObject); err != nil {
		t.Fatal(err)
	}
	_, rec, url := newReceiver(t, receiver.Faults{})

	obs, logs := observer.New(zap.InfoLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(logLevel())).Core(), obs))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, runConfig(kc.Addrs(), url), log) }()
	var addr string
	eventually(t, 30*time.Second, "Run to listen", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("Run returned before serving: %v", err)
		default:
		}
		for _, e := range logs.FilterMessage("http sink running").All() {
			addr, _ = e.ContextMap()["http"].(string)
		}
		return addr != "", "not yet"
	})
	eventually(t, 30*time.Second, "/healthz", func() (bool, string) {
		code, body := get("http://" + addr + "/healthz")
		return code == http.StatusOK, fmt.Sprint(code, body)
	})

	e.produceRange(1, 21)
	kc.Produce(&kgo.Record{Topic: testTopic, Partition: 0, Key: []byte("junk"), Value: []byte("not avro")})
	eventually(t, 60*time.Second, "20 events delivered", func() (bool, string) {
		seen := map[int64]bool{}
		for _, q := range rec.requests() {
			for _, id := range q.EventIDs {
				seen[id] = true
			}
		}
		return len(seen) == 20, fmt.Sprintf("%d distinct events", len(seen))
	})
	if recs := kc.ReadAll(testDLQ, 1, 30*time.Second); len(recs) != 1 || string(recs[0].Key) != "junk" {
		t.Errorf("dlq: got %d records, want the junk one", len(recs))
	}
	code, body := get("http://" + addr + "/metrics")
	if code != http.StatusOK || !strings.Contains(body, `enricher_sink_http_events_total{result="delivered"}`) ||
		!strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
		t.Errorf("/metrics: got %d, want the sink's, Go and process metrics:\n%s", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: got %v, want nil after cancellation", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancellation")
	}
}

// TestRunRefusesConfig checks that Run names the refused field in a
// *FieldError before starting anything.
func TestRunRefusesConfig(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name      string
		change    func(*Config)
		wantField string
		wantErr   string
	}{
		{"no url", func(c *Config) { c.URL = "" }, "URL", "no endpoint given"},
		{"ftp url", func(c *Config) { c.URL = "ftp://h/" }, "URL", `"ftp://h/" is not an http(s) URL`},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "Brokers", "no broker given"},
		{"no topic", func(c *Config) { c.Topic = "" }, "Topic", "empty"},
		{"no group", func(c *Config) { c.Group = "" }, "Group", "empty"},
		{"dlq is input", func(c *Config) { c.DLQTopic = testTopic }, "DLQTopic", "empty or the input topic"},
		{"no batch", func(c *Config) { c.BatchSize = 0 }, "BatchSize", "must be positive"},
		{"no concurrency", func(c *Config) { c.Concurrency = 0 }, "Concurrency", "must be positive"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "Timeout", "must be positive"},
		{"negative retries", func(c *Config) { c.MaxRetries = -1 }, "MaxRetries", "must not be negative"},
		{"no linger", func(c *Config) { c.Linger = 0 }, "Linger", "must be positive"},
		{"no breaker failures", func(c *Config) { c.BreakerFailures = 0 }, "BreakerFailures", "must be positive"},
		{"no breaker cooldown", func(c *Config) { c.BreakerCooldown = 0 }, "BreakerCooldown", "must be positive"},
		{"addr without port", func(c *Config) { c.HTTPAddr = "8082" }, "HTTPAddr", `"8082" is not host:port`},
		{"registry not http", func(c *Config) { c.SchemaRegistryURL = "localhost:8081" }, "SchemaRegistryURL", "is not an http(s) URL"},
		{"port in use", func(c *Config) { c.HTTPAddr = busy.Addr().String() }, "HTTPAddr", "(is the port in use?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runConfig([]string{"127.0.0.1:1"}, "http://127.0.0.1:1/events")
			tc.change(&cfg)
			err := Run(context.Background(), cfg, nil)
			fe, ok := errors.AsType[*FieldError](err)
			if !ok || fe.Field != tc.wantField || !strings.Contains(fe.Err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want a *FieldError of %s containing %q", err, tc.wantField, tc.wantErr)
			}
		})
	}
}

// TestHandlerMethods: a known path asked with the wrong method is a 405
// naming the allowed ones; an unknown path is a 404 whatever the method.
func TestHandlerMethods(t *testing.T) {
	srv := httptest.NewServer(NewHandler(prometheus.NewRegistry()))
	defer srv.Close()
	for _, tc := range []struct {
		name, method, path string
		wantStatus         int
		wantAllow          string
	}{
		{"get healthz", http.MethodGet, "/healthz", http.StatusOK, ""},
		{"head healthz", http.MethodHead, "/healthz", http.StatusOK, ""},
		{"get metrics", http.MethodGet, "/metrics", http.StatusOK, ""},
		{"post metrics", http.MethodPost, "/metrics", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"delete healthz", http.MethodDelete, "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"get unknown", http.MethodGet, "/nope", http.StatusNotFound, ""},
		{"post unknown", http.MethodPost, "/nope", http.StatusNotFound, ""},
		{"get root", http.MethodGet, "/", http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("%s %s: got status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.wantStatus)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("%s %s: got Allow %q, want %q", tc.method, tc.path, got, tc.wantAllow)
			}
		})
	}
}
