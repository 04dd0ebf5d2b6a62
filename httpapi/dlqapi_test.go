package httpapi

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/store"
)

// newDLQServer serves the handler with /debug/dlq reading r (nil: none).
func newDLQServer(t *testing.T, r DLQReader) *httptest.Server {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg := Config{View: st, Tracker: tracker{ready: true}, Gatherer: prometheus.NewRegistry()}
	if r != nil {
		cfg.DLQ = r
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func dlqReader(t *testing.T, brokers []string, topic string) *dlq.Reader {
	t.Helper()
	r, err := dlq.NewReader(dlq.ReaderConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func toKgo(m kafka.Message, partition int32, at time.Time) *kgo.Record {
	r := &kgo.Record{Topic: m.Topic, Partition: partition, Key: m.Key, Value: m.Value, Timestamp: at}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

type dlqAnswer struct {
	Items []map[string]any `json:"items"`
	Topic string           `json:"topic"`
	Error string           `json:"error"`
}

func getDLQ(t *testing.T, srv *httptest.Server, query string) (int, dlqAnswer) {
	t.Helper()
	code, body := get(t, srv, "/debug/dlq"+query)
	var a dlqAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET /debug/dlq%s: %d %q is not JSON: %v", query, code, body, err)
	}
	return code, a
}

func TestDLQEndpoint(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic("enricher.dlq", 1, nil)
	at := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	// A long value whose 512th byte cuts a two-byte rune, with one invalid byte.
	long := append([]byte{0xff}, []byte(strings.Repeat("a", 510)+"é"+strings.Repeat("b", 100))...)
	kc.Produce(
		toKgo(dlq.Record("enricher.dlq", kafka.Message{Topic: "events", Partition: 2, Offset: 41, Key: []byte("42"), Value: long}, "enricher.decode", errors.New("event_ts: Not A Time"), at), 0, at),
		toKgo(dlq.Record("enricher.dlq", kafka.Message{Topic: "content", Partition: 0, Offset: 7, Value: []byte(`{}`),
			Headers: []kafka.Header{{Key: dlq.HeaderReplayCount, Value: []byte("1")}}}, "cdc.decode", errors.New("bad json"), at.Add(time.Minute)), 0, at.Add(time.Minute)),
		&kgo.Record{Topic: "enricher.dlq", Partition: 0, Key: []byte("f"), Value: []byte("x"), Timestamp: at.Add(2 * time.Minute)},
	)
	srv := newDLQServer(t, dlqReader(t, kc.Addrs(), "enricher.dlq"))

	code, a := getDLQ(t, srv, "")
	if code != 200 || a.Topic != "enricher.dlq" || len(a.Items) != 3 {
		t.Fatalf("got %d topic %q with %d items, want 200 enricher.dlq with 3", code, a.Topic, len(a.Items))
	}
	// Newest first: the foreign record (record time +2m), then the content
	// one (failed_at +1m), then the event.
	foreign, content, event := a.Items[0], a.Items[1], a.Items[2]
	if foreign["foreign"] != true || foreign["source"] != nil || foreign["failed_at"] != nil || foreign["time"] != "2025-03-10T09:02:00.000Z" {
		t.Errorf("foreign record: got %v, want foreign with null source and failed_at", foreign)
	}
	if content["replays"] != 1.0 || content["key"] != nil || content["stage"] != "cdc.decode" {
		t.Errorf("content record: got %v, want 1 replay, null key, stage cdc.decode", content)
	}
	wantPreview := `\xff` + strings.Repeat("a", 510) // é cut at byte 512: dropped, not escaped
	src, _ := event["source"].(map[string]any)
	switch {
	case event["foreign"] != false || event["stage"] != "enricher.decode" || event["reason"] != "event_ts: Not A Time":
		t.Errorf("event record: got %v", event)
	case event["failed_at"] != "2025-03-10T09:00:00Z" || event["key"] != "42" || event["partition"] != 0.0 || event["offset"] != 0.0:
		t.Errorf("event record: got %v", event)
	case src["topic"] != "events" || src["partition"] != 2.0 || src["offset"] != 41.0:
		t.Errorf("event source: got %v, want events/2/41", src)
	case event["value_bytes"] != float64(len(long)) || event["value_preview"] != wantPreview:
		t.Errorf("event value: got %v bytes, preview %q; want %d bytes, preview %q", event["value_bytes"], event["value_preview"], len(long), wantPreview)
	}

	for _, tc := range []struct {
		name, query string
		code        int
		want        int // items
	}{
		{"stage exact", "?stage=cdc.decode", 200, 1},
		{"stage is not a prefix", "?stage=cdc", 200, 0},
		{"reason case-insensitive", "?reason=NOT%20a%20time", 200, 1},
		{"source topic", "?source_topic=events", 200, 1},
		{"limit", "?limit=2", 200, 2},
		{"limit zero", "?limit=0", 400, 0},
		{"limit past the max", "?limit=501", 400, 0},
		{"limit not a number", "?limit=x", 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, a := getDLQ(t, srv, tc.query)
			if code != tc.code || len(a.Items) != tc.want || (code != 200 && a.Error == "") {
				t.Fatalf("got %d with %d items (error %q), want %d with %d", code, len(a.Items), a.Error, tc.code, tc.want)
			}
		})
	}
}

func TestDLQEndpointUnavailable(t *testing.T) {
	kc := testkafka.New(t)
	// A broker that accepts connections and never answers: the read must
	// give up within its bound, not hang the console.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, unanswered, until the test ends
		}
	}()
	t.Cleanup(func() {
		_ = silent.Close()
		<-done
		close(accepted)
		for c := range accepted {
			_ = c.Close()
		}
	})
	for _, tc := range []struct {
		name   string
		reader DLQReader
		code   int
		want   string // in the error; "" for a 200 with no items
		within time.Duration
	}{
		{"no reader", nil, 503, "no DLQ reader is configured", time.Second},
		{"kafka refuses connections", dlqReader(t, []string{"127.0.0.1:1"}, "enricher.dlq"), 503, "kafka unreachable at 127.0.0.1:1", 2 * time.Second},
		{"kafka never answers", dlqReader(t, []string{silent.Addr().String()}, "enricher.dlq"), 503, "took longer than 3s", dlqTimeout + 2*time.Second},
		{"no dlq topic yet", dlqReader(t, kc.Addrs(), "never.written"), 200, "", 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newDLQServer(t, tc.reader)
			start := time.Now()
			code, a := getDLQ(t, srv, "")
			took := time.Since(start)
			if code != tc.code || !strings.Contains(a.Error, tc.want) || took > tc.within {
				t.Fatalf("got %d %q after %v, want %d with %q within %v", code, a.Error, took, tc.code, tc.want, tc.within)
			}
			if code == http.StatusOK && (a.Items == nil || len(a.Items) != 0) {
				t.Fatalf("got items %v, want []", a.Items)
			}
		})
	}
}
