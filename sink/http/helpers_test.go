package httpsink

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/thmanyah/enricher/enricher"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/schemas"
	"github.com/thmanyah/enricher/tools/receiver"
)

const (
	testTopic = "processed_engagements"
	testDLQ   = "enricher.dlq"
)

type env struct {
	t     testing.TB
	kc    *testkafka.Cluster
	enc   *schemas.Encoder
	parts int32
}

func newEnv(t testing.TB, parts int32) *env {
	t.Helper()
	kc := testkafka.New(t, kfake.GroupMinSessionTimeout(time.Second))
	kc.Topic(testTopic, parts, nil)
	kc.Topic(testDLQ, 1, nil)
	enc, err := schemas.NewEncoder(0, schemas.FramingSingleObject)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, kc: kc, enc: enc, parts: parts}
}

// event returns a plausible output record for id.
func event(id int64) schemas.Output {
	o := schemas.Output{
		EventID:   id,
		ContentID: sql.NullString{String: fmt.Sprintf("00000000-0000-4000-8000-%012d", id%7), Valid: true},
		UserID:    sql.NullString{String: fmt.Sprintf("11111111-0000-4000-8000-%012d", id%101), Valid: true},
		EventType: sql.NullString{String: []string{"play", "pause", "finish", "click"}[id%4], Valid: true},
		EventTs:   time.Date(2025, 1, 1, 12, 30, 0, 0, time.UTC).Add(time.Duration(id) * time.Millisecond),
		Device:    sql.NullString{String: "ios", Valid: true},
	}
	if id%5 != 0 {
		o.DurationMs = sql.NullInt32{Int32: int32(id * 10), Valid: true}
		o.EngagementSeconds = enricher.EngagementSeconds(o.DurationMs)
		o.ContentType = sql.NullString{String: "podcast", Valid: true}
		o.LengthSeconds = sql.NullInt32{Int32: 1200, Valid: true}
		o.EngagementPct = enricher.EngagementPct(o.DurationMs, o.LengthSeconds)
	}
	return o
}

// produce writes the events ids, each to partition id % parts.
func (e *env) produce(ids ...int64) {
	e.t.Helper()
	recs := make([]*kgo.Record, 0, len(ids))
	for _, id := range ids {
		o := event(id)
		v, err := e.enc.Append(nil, &o)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: testTopic, Partition: int32(id % int64(e.parts)),
			Key: []byte(strconv.FormatInt(id, 10)), Value: v})
	}
	e.kc.Produce(recs...)
}

// produceRange writes the events from..to-1.
func (e *env) produceRange(from, to int64) {
	ids := make([]int64, 0, to-from)
	for id := from; id < to; id++ {
		ids = append(ids, id)
	}
	e.produce(ids...)
}

// dlqIDs reads want DLQ records and returns them.
func (e *env) dlq(want int) []*kgo.Record {
	e.t.Helper()
	if want == 0 {
		return nil
	}
	recs := e.kc.ReadAll(testDLQ, want, 20*time.Second)
	if len(recs) < want {
		e.t.Fatalf("dlq: got %d records, want %d", len(recs), want)
	}
	return recs
}

func groupTimings(gc *kafka.ConsumerGroupConfig) {
	gc.HeartbeatInterval = 100 * time.Millisecond
	gc.SessionTimeout = 2 * time.Second
	gc.RebalanceTimeout = 5 * time.Second
	gc.JoinGroupBackoff = 100 * time.Millisecond
	gc.PartitionWatchInterval = 500 * time.Millisecond
}

func readerTimings(rc *kafka.ReaderConfig) { rc.MaxWait = 50 * time.Millisecond }

type running struct {
	*Sink
	reg      *prometheus.Registry
	finished chan struct{} // closed when Run returned, with err set
	err      error
	stop     func() error
}

// start runs a sink against url until stop (or the test's end).
func (e *env) start(url string, change func(*SinkConfig)) *running {
	e.t.Helper()
	dec, err := schemas.NewDecoder(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(e.kc.Addrs()...), BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	reg := prometheus.NewRegistry()
	cfg := SinkConfig{
		Brokers: e.kc.Addrs(), Topic: testTopic, Group: "sink-http", DLQTopic: testDLQ, URL: url,
		BatchSize: 50, Concurrency: 3, Timeout: 2 * time.Second, Linger: 10 * time.Millisecond,
		Backoff: retry.Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond},
		Decoder: dec, DLQ: w, Registerer: reg,
		Logger:      zaptest.NewLogger(e.t, zaptest.Level(logLevel())),
		GroupConfig: groupTimings, ReaderConfig: readerTimings,
	}
	if change != nil {
		change(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Sink: s, reg: reg, finished: make(chan struct{})}
	go func() { r.err = s.Run(ctx); close(r.finished) }()
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case <-r.finished:
				runErr = r.err
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("Run did not return within 30s of cancellation")
			}
			_ = w.Close()
		})
		return runErr
	}
	e.t.Cleanup(func() {
		if err := r.stop(); err != nil && err != errCrash {
			e.t.Errorf("sink: %v", err)
		}
	})
	return r
}

// metric returns the value of the gauge or counter name with labels.
func (r *running) metric(name string, labels ...string) float64 {
	mfs, err := r.reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// recorder keeps the log of (key, event ids) of every request a receiver saw.
type recorder struct {
	mu   sync.Mutex
	reqs []receiver.Request
}

func (r *recorder) add(q receiver.Request) { r.mu.Lock(); r.reqs = append(r.reqs, q); r.mu.Unlock() }

func (r *recorder) requests() []receiver.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receiver.Request(nil), r.reqs...)
}

// newReceiver starts a receiver with faults behind a local HTTP server.
func newReceiver(t testing.TB, f receiver.Faults) (*receiver.Receiver, *recorder, string) {
	rec := &recorder{}
	rcv := receiver.New(receiver.Config{Faults: f, Seed: 42, OnRequest: rec.add})
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	return rcv, rec, srv.URL + "/events"
}

// checkKeys fails the test when an event was sent under two keys, or a key
// with two different sets of events, and returns the events per key.
func checkKeys(t testing.TB, reqs []receiver.Request) map[int64]string {
	t.Helper()
	keyOf := map[int64]string{}
	idsOf := map[string]string{}
	for _, q := range reqs {
		sig := fmt.Sprint(q.EventIDs)
		if prev, ok := idsOf[q.Key]; ok && prev != sig {
			t.Errorf("key %s sent with events %s and %s", q.Key, prev, sig)
		}
		idsOf[q.Key] = sig
		for _, id := range q.EventIDs {
			if k, ok := keyOf[id]; ok && k != q.Key {
				t.Errorf("event %d sent under keys %s and %s", id, k, q.Key)
			}
			keyOf[id] = q.Key
		}
	}
	return keyOf
}

// dlqEventIDs returns the event ids (record keys) of DLQ records.
func dlqEventIDs(t testing.TB, recs []*kgo.Record) map[int64]*kgo.Record {
	t.Helper()
	out := map[int64]*kgo.Record{}
	for _, r := range recs {
		id, err := strconv.ParseInt(string(r.Key), 10, 64)
		if err != nil {
			t.Fatalf("dlq record key %q: %v", r.Key, err)
		}
		out[id] = r
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// logLevel is warn, or what $HTTPSINK_TEST_LOG says (debug, info).
func logLevel() zapcore.Level {
	if l, err := zapcore.ParseLevel(os.Getenv("HTTPSINK_TEST_LOG")); err == nil && os.Getenv("HTTPSINK_TEST_LOG") != "" {
		return l
	}
	return zap.WarnLevel
}
