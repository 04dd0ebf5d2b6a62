package redissink_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testredis"
	"github.com/thmanyah/enricher/schemas"
	redissink "github.com/thmanyah/enricher/sink/redis"
)

// runConfig is a valid Config for brokers and redisURL, listening on a free port.
func runConfig(brokers []string, redisURL string) redissink.Config {
	return redissink.Config{
		RedisURL: redisURL, Brokers: brokers, Topic: topic, Group: "sink-run", DLQTopic: dlqTopic,
		Window: window, Top: 10, HTTPAddr: "127.0.0.1:0",
	}
}

// startRun runs redissink.Run until the returned stop, which returns Run's
// error, and waits until it logged the address it serves on.
func startRun(t *testing.T, cfg redissink.Config) (addr string, stop func() error) {
	t.Helper()
	obs, logs := observer.New(zap.InfoLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(), obs))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- redissink.Run(ctx, cfg, log) }()
	stopped, runErr := false, error(nil)
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("Run did not return within 30s of cancellation")
			}
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	waitFor(t, 30*time.Second, "Run to listen", func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("Run returned before serving: %v", err)
		default:
		}
		for _, e := range logs.FilterMessage("redis sink running").All() {
			addr, _ = e.ContextMap()["http"].(string)
		}
		return addr != "", "not yet"
	})
	return addr, stop
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
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

// TestRunEndToEnd drives the running sink as `enricher sink redis` does:
// Run creates the DLQ topic, serves /healthz and /top, applies a record,
// dead-letters another, and returns nil once its context ends.
func TestRunEndToEnd(t *testing.T) {
	rs := testredis.New(t)
	kc := testkafka.New(t, kfake.GroupMinSessionTimeout(time.Second))
	kc.Topic(topic, 1, nil) // not the DLQ topic: Run creates it
	addr, stop := startRun(t, runConfig(kc.Addrs(), rs.URL()))

	waitFor(t, 30*time.Second, "/healthz", func() (bool, string) {
		code, body := getBody(t, "http://"+addr+"/healthz")
		return code == http.StatusOK, fmt.Sprint(code, body)
	})
	enc, err := schemas.NewEncoder(0, schemas.FramingSingleObject)
	if err != nil {
		t.Fatal(err)
	}
	v, err := enc.Append(nil, &schemas.Output{EventID: 42, EventTs: time.Now(),
		ContentID:         sql.NullString{String: "c-42", Valid: true},
		ContentType:       sql.NullString{String: "podcast", Valid: true},
		EngagementSeconds: sql.NullFloat64{Float64: 12.5, Valid: true}})
	if err != nil {
		t.Fatal(err)
	}
	kc.Produce(&kgo.Record{Topic: topic, Key: []byte("42"), Value: v},
		&kgo.Record{Topic: topic, Key: []byte("junk"), Value: []byte("not avro")})

	want := redissink.TopItem{Rank: 1, ContentID: "c-42", Score: 12.5, ContentType: "podcast"}
	waitFor(t, 60*time.Second, "the record in /top", func() (bool, string) {
		code, body := getBody(t, "http://"+addr+"/top")
		var top redissink.TopResponse
		if code != http.StatusOK || json.Unmarshal([]byte(body), &top) != nil {
			return false, fmt.Sprint(code, body)
		}
		return len(top.Items) == 1 && top.Items[0] == want, body
	})
	if recs := kc.ReadAll(dlqTopic, 1, 30*time.Second); len(recs) != 1 || string(recs[0].Key) != "junk" {
		t.Errorf("dlq: got %d records, want the junk one", len(recs))
	}
	code, body := getBody(t, "http://"+addr+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `enricher_sink_redis_events_total{outcome="applied"} 1`) ||
		!strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
		t.Errorf("/metrics: got %d, want the sink's, Go and process metrics:\n%s", code, body)
	}
	if err := stop(); err != nil {
		t.Errorf("Run: got %v, want nil after cancellation", err)
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
		change    func(*redissink.Config)
		wantField string
		wantErr   string
	}{
		{"no brokers", func(c *redissink.Config) { c.Brokers = nil }, "Brokers", "no broker given"},
		{"no topic", func(c *redissink.Config) { c.Topic = "" }, "Topic", "empty"},
		{"no group", func(c *redissink.Config) { c.Group = "" }, "Group", "empty"},
		{"dlq is input", func(c *redissink.Config) { c.DLQTopic = topic }, "DLQTopic", "is the input topic"},
		{"window in ms", func(c *redissink.Config) { c.Window = 1500 * time.Millisecond }, "Window", "1.5s is not a positive whole number of seconds"},
		{"no window", func(c *redissink.Config) { c.Window = 0 }, "Window", "0s is not a positive whole number of seconds"},
		{"negative top", func(c *redissink.Config) { c.Top = -1 }, "Top", "must not be negative"},
		{"addr without port", func(c *redissink.Config) { c.HTTPAddr = "8081" }, "HTTPAddr", `"8081" is not host:port`},
		{"registry not http", func(c *redissink.Config) { c.SchemaRegistryURL = "localhost:8081" }, "SchemaRegistryURL", "is not an http(s) URL"},
		{"content api not http", func(c *redissink.Config) { c.ContentAPI = "ftp://x" }, "ContentAPI", "is not an http(s) URL"},
		{"bad redis url", func(c *redissink.Config) { c.RedisURL = "http://localhost" }, "RedisURL", "invalid URL scheme"},
		{"port in use", func(c *redissink.Config) { c.HTTPAddr = busy.Addr().String() }, "HTTPAddr", "(is the port in use?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runConfig([]string{"127.0.0.1:1"}, "redis://127.0.0.1:1/0")
			tc.change(&cfg)
			err := redissink.Run(context.Background(), cfg, nil)
			fe, ok := errors.AsType[*redissink.FieldError](err)
			if !ok || fe.Field != tc.wantField || !strings.Contains(fe.Err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want a *FieldError of %s containing %q", err, tc.wantField, tc.wantErr)
			}
		})
	}
}
