package httpsink

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/thmanyah/enricher/schemas"
)

func TestBreakerStates(t *testing.T) {
	var seen []BreakerState
	b := newBreaker(3, 50*time.Millisecond, func(s BreakerState) { seen = append(seen, s) })
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		b.done(false, verdictFail)
	}
	b.done(false, verdictNeutral) // a 429 neither counts nor resets
	if got := b.State(); got != BreakerClosed {
		t.Fatalf("after 2 failures and a 429: %v, want closed", got)
	}
	b.done(false, verdictFail)
	if got := b.State(); got != BreakerOpen {
		t.Fatalf("after 3 failures: %v, want open", got)
	}
	start := time.Now()
	probe, err := b.allow(ctx)
	if err != nil || !probe {
		t.Fatalf("allow: probe %v, err %v; want the probe", probe, err)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("the probe went after %v, want the cool-down of 50ms", waited)
	}
	if got := b.State(); got != BreakerHalfOpen {
		t.Fatalf("during the probe: %v, want half-open", got)
	}
	// A second caller waits while the probe is out.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	if _, err := b.allow(short); err == nil {
		t.Error("a second request went through during the probe")
	}
	cancel()
	b.done(true, verdictFail)
	if got := b.State(); got != BreakerOpen {
		t.Fatalf("after a failed probe: %v, want open", got)
	}
	probe, _ = b.allow(ctx)
	b.abandon(probe) // the prober stopped before sending: another may probe
	probe, _ = b.allow(ctx)
	if !probe {
		t.Fatal("no probe after an abandoned one")
	}
	b.done(true, verdictOK)
	if got := b.State(); got != BreakerClosed {
		t.Fatalf("after a successful probe: %v, want closed", got)
	}
	if probe, _ := b.allow(ctx); probe {
		t.Error("a closed breaker made a probe")
	}
	want := []BreakerState{BreakerClosed, BreakerOpen, BreakerHalfOpen, BreakerOpen, BreakerHalfOpen, BreakerClosed}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("transitions %v, want %v", seen, want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, in string
		want     time.Duration
		ok       bool
	}{
		{"seconds", "3", 3 * time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 120 ", 2 * time.Minute, true},
		{"http date", "Wed, 01 Jan 2025 12:00:30 GMT", 30 * time.Second, true},
		{"date in the past", "Wed, 01 Jan 2025 11:00:00 GMT", 0, true},
		{"negative", "-1", 0, false},
		{"garbage", "soon", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.in, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	msgs := []kafka.Message{{Offset: 10, Key: []byte("1"), Value: []byte("a")}, {Offset: 12, Key: []byte("2"), Value: []byte("b")}}
	k := IdempotencyKey("t", 3, msgs)
	if !strings.HasPrefix(k, "t/3/10-12/") || len(k) != len("t/3/10-12/")+16 {
		t.Errorf("key %q, want t/3/10-12/<16 hex digits>", k)
	}
	again := []kafka.Message{{Offset: 10, Key: []byte("1"), Value: []byte("a"), HighWaterMark: 99}, {Offset: 12, Key: []byte("2"), Value: []byte("b")}}
	if k2 := IdempotencyKey("t", 3, again); k2 != k {
		t.Errorf("the same records gave %q and %q", k, k2)
	}
	other := []kafka.Message{{Offset: 10, Key: []byte("1"), Value: []byte("a")}, {Offset: 12, Key: []byte("2"), Value: []byte("c")}}
	if k2 := IdempotencyKey("t", 3, other); k2 == k {
		t.Error("other content, same key")
	}
	split := []kafka.Message{{Offset: 10, Key: []byte("1a"), Value: nil}, {Offset: 12, Key: []byte("2"), Value: []byte("b")}}
	if k2 := IdempotencyKey("t", 3, split); k2 == k {
		t.Error("moving a byte from value to key kept the key")
	}
}

func TestIntentMetadata(t *testing.T) {
	if got := parseIntent(intentMetadata(4711)); got != 4711 {
		t.Errorf("round trip: %d", got)
	}
	for _, bad := range []string{"", "end=5", intentPrefix + "x", intentPrefix + "-3"} {
		if got := parseIntent(bad); got != -1 {
			t.Errorf("parseIntent(%q) = %d, want -1", bad, got)
		}
	}
}

func TestAppendEvent(t *testing.T) {
	full := schemas.Output{
		EventID:           42,
		ContentID:         sql.NullString{String: "6f1c2a4e-0000-4000-8000-000000000001", Valid: true},
		UserID:            sql.NullString{String: "u\"ser\\\n", Valid: true},
		EventType:         sql.NullString{String: "play", Valid: true},
		EventTs:           time.Date(2025, 1, 1, 12, 30, 0, 7_891_000, time.FixedZone("x", 3600)),
		DurationMs:        sql.NullInt32{Int32: 12340, Valid: true},
		Device:            sql.NullString{String: "آيفون", Valid: true},
		ContentType:       sql.NullString{String: "podcast", Valid: true},
		LengthSeconds:     sql.NullInt32{Int32: 1200, Valid: true},
		EngagementSeconds: sql.NullFloat64{Float64: 12.34, Valid: true},
		EngagementPct:     sql.NullFloat64{Float64: 0.01, Valid: true},
	}
	got := string(AppendEvent(nil, &full))
	want := `{"event_id":42,"content_id":"6f1c2a4e-0000-4000-8000-000000000001","user_id":"u\"ser\\\n","event_type":"play",` +
		`"event_ts":"2025-01-01T11:30:00.007Z","duration_ms":12340,"device":"آيفون","content_type":"podcast",` +
		`"length_seconds":1200,"engagement_seconds":12.34,"engagement_pct":0.01}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil || m["user_id"] != "u\"ser\\\n" {
		t.Errorf("not JSON, or the string was mangled: %v %v", err, m["user_id"])
	}
	nulls := schemas.Output{EventID: 7, EventTs: time.UnixMilli(0), EngagementPct: sql.NullFloat64{Float64: math.NaN(), Valid: true}}
	got = string(AppendEvent(nil, &nulls))
	want = `{"event_id":7,"content_id":null,"user_id":null,"event_type":null,"event_ts":"1970-01-01T00:00:00.000Z",` +
		`"duration_ms":null,"device":null,"content_type":null,"length_seconds":null,"engagement_seconds":null,"engagement_pct":null}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	tiny := schemas.Output{EventTs: time.UnixMilli(0), EngagementSeconds: sql.NullFloat64{Float64: 1e-7, Valid: true}}
	if err := json.Unmarshal(AppendEvent(nil, &tiny), &m); err != nil || m["engagement_seconds"] != 1e-7 {
		t.Errorf("1e-7: %v %v", err, m["engagement_seconds"])
	}
}

func TestConfigValidation(t *testing.T) {
	dec, _ := schemas.NewDecoder(nil)
	ok := SinkConfig{Brokers: []string{"x:1"}, Topic: "a", Group: "g", DLQTopic: "d", URL: "http://h/", Decoder: dec, DLQ: &kafka.Writer{}}
	for _, tc := range []struct {
		name   string
		change func(*SinkConfig)
		want   string
	}{
		{"no url", func(c *SinkConfig) { c.URL = "" }, "url"},
		{"ftp url", func(c *SinkConfig) { c.URL = "ftp://h/" }, "url"},
		{"dlq is input", func(c *SinkConfig) { c.DLQTopic = "a" }, "dlq"},
		{"no group", func(c *SinkConfig) { c.Group = "" }, "group"},
		{"negative batch", func(c *SinkConfig) { c.BatchSize = -1 }, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error about %s", err, tc.want)
			}
		})
	}
	s, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.cfg; c.BatchSize != 500 || c.Concurrency != 4 || c.Timeout != 10*time.Second || c.MaxRetries != 8 {
		t.Errorf("defaults: batch %d, concurrency %d, timeout %v, retries %d", c.BatchSize, c.Concurrency, c.Timeout, c.MaxRetries)
	}
}

func TestKeepPOSTRedirects(t *testing.T) {
	for code, follow := range map[int]bool{301: false, 302: false, 303: false, 307: true, 308: true} {
		req := &http.Request{Response: &http.Response{StatusCode: code}}
		if got := keepPOST(req, []*http.Request{{}}) == nil; got != follow {
			t.Errorf("%d: follow %v, want %v", code, got, follow)
		}
	}
}
