package redissink_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testredis"
	"github.com/thmanyah/enricher/schemas"
	redissink "github.com/thmanyah/enricher/sink/redis"
)

const (
	topic      = "processed_engagements"
	dlqTopic   = "enricher.dlq"
	partitions = 3
	window     = 10 * time.Minute
)

// clock is the injectable event-time clock; it moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     testing.TB
	kc    *testkafka.Cluster
	rs    *testredis.Server
	rdb   *redis.Client
	clock *clock
	enc   *schemas.Encoder
}

func newEnv(t testing.TB) *env {
	t.Helper()
	rs := testredis.New(t)
	kc := testkafka.New(t, kfake.GroupMinSessionTimeout(time.Second))
	kc.Topic(topic, partitions, nil)
	kc.Topic(dlqTopic, 1, nil)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), DialTimeout: time.Second, MaxRetries: 1, DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	enc, err := schemas.NewEncoder(0, schemas.FramingSingleObject)
	if err != nil {
		t.Fatal(err)
	}
	// Event time runs an hour behind the wall clock, so every record's Kafka
	// timestamp is later than its event time, as in production; the odd
	// milliseconds keep the window's edges off whole minutes.
	c := &clock{t: time.Now().Add(-time.Hour).Truncate(time.Minute).Add(37*time.Second + 421*time.Millisecond)}
	return &env{t: t, kc: kc, rs: rs, rdb: rdb, clock: c, enc: enc}
}

func groupTimings(rc *kafka.ReaderConfig) {
	rc.HeartbeatInterval = 100 * time.Millisecond
	rc.SessionTimeout = 2 * time.Second
	rc.RebalanceTimeout = 2 * time.Second
	rc.JoinGroupBackoff = 100 * time.Millisecond
}

type running struct {
	sink *redissink.Sink
	reg  *prometheus.Registry
	stop func()
}

// start runs a sink until the returned stop (or the test's end).
func (e *env) start(group string, change func(*redissink.SinkConfig)) *running {
	e.t.Helper()
	dec, err := schemas.NewDecoder(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(e.kc.Addrs()...), BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	reg := prometheus.NewRegistry()
	cfg := redissink.SinkConfig{
		Brokers: e.kc.Addrs(), Topic: topic, Group: group, DLQTopic: dlqTopic,
		Redis: e.rdb, Decoder: dec, DLQ: w,
		Window: window, Now: e.clock.Now, MergeInterval: 20 * time.Millisecond, MergeGap: 5 * time.Millisecond,
		Backoff: retry.Backoff{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond}, Registerer: reg, Reader: groupTimings,
		Logger: zaptest.NewLogger(e.t, zaptest.Level(zap.InfoLevel)),
	}
	if change != nil {
		change(&cfg)
	}
	s, err := redissink.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("sink run: %v", err)
				}
			case <-time.After(30 * time.Second):
				e.t.Errorf("sink did not stop within 30s")
			}
			w.Close()
		})
	}
	e.t.Cleanup(stop)
	return &running{sink: s, reg: reg, stop: stop}
}

// produce writes records keyed and partitioned by event id.
func (e *env) produce(outs []schemas.Output) {
	e.t.Helper()
	recs := make([]*kgo.Record, 0, len(outs))
	for i := range outs {
		v, err := e.enc.Append(nil, &outs[i])
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(outs[i].EventID % partitions),
			Key: []byte(strconv.FormatInt(outs[i].EventID, 10)), Value: v})
	}
	for len(recs) > 0 {
		n := min(len(recs), 5000)
		e.kc.Produce(recs[:n]...)
		recs = recs[n:]
	}
}

// gen returns n events with ids from firstID, spread over event times around
// now: most inside the window, some before it, some just ahead of it, some on
// its edges, and some with NULL content or seconds. Seconds are multiples of
// 1/8, exact in binary, so sums in any order are exact.
func gen(rng *rand.Rand, firstID int64, n int, now time.Time, contents []string) []schemas.Output {
	types := []string{"podcast", "newsletter", "video"}
	hi := now.Unix()
	lo := hi - int64(window/time.Second) + 1
	out := make([]schemas.Output, n)
	for i := range out {
		o := schemas.Output{EventID: firstID + int64(i), DurationMs: sql.NullInt32{Int32: 1, Valid: true}}
		c := rng.IntN(len(contents))
		o.ContentID = sql.NullString{String: contents[c], Valid: true}
		if c%4 != 3 { // some content never carries its type
			o.ContentType = sql.NullString{String: types[c%3], Valid: true}
		}
		o.EngagementSeconds = sql.NullFloat64{Float64: float64(rng.IntN(8000)) * 0.125, Valid: true}
		switch r := rng.IntN(100); {
		case r < 70: // inside the window
			o.EventTs = time.UnixMilli(lo*1000 + rng.Int64N((hi-lo+1)*1000))
		case r < 82: // before it: a backfill
			o.EventTs = time.UnixMilli(lo*1000 - 1 - rng.Int64N(20*60*1000))
		case r < 88: // ahead of it, within two minutes
			o.EventTs = time.UnixMilli((hi+1)*1000 + rng.Int64N(120*1000))
		case r < 91:
			o.EventTs = time.UnixMilli(lo * 1000) // first millisecond in
		case r < 94:
			o.EventTs = time.UnixMilli(lo*1000 - 1) // last millisecond out
		case r < 97:
			o.ContentID = sql.NullString{}
			o.EventTs = now
		default:
			o.EngagementSeconds = sql.NullFloat64{}
			o.EventTs = now
		}
		out[i] = o
	}
	return out
}

func contentIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewString()
	}
	return out
}

// withDuplicates returns outs with about frac of them repeated, shuffled.
func withDuplicates(rng *rand.Rand, outs []schemas.Output, frac float64) []schemas.Output {
	all := append([]schemas.Output(nil), outs...)
	for _, o := range outs {
		if rng.Float64() < frac {
			all = append(all, o)
		}
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all
}

// model is the reference: the sink's rules written as plainly as possible.
type model struct {
	seen   map[int64]schemas.Output
	counts map[string]int
}

func newModel() *model { return &model{seen: map[int64]schemas.Output{}, counts: map[string]int{}} }

// feed processes records the sink reads while the clock shows now.
func (m *model) feed(now time.Time, outs []schemas.Output) {
	hi := now.Unix()
	lo := hi - int64(window/time.Second) + 1
	for _, o := range outs {
		sec := o.EventTs.Unix()
		switch _, dup := m.seen[o.EventID]; {
		case !o.ContentID.Valid || !o.EngagementSeconds.Valid:
			m.counts["no_content"]++
		case sec < lo || sec > hi+(hi-lo+1):
			m.counts["out_of_window"]++
		case dup:
			m.counts["duplicate"]++
		default:
			m.counts["applied"]++
			m.seen[o.EventID] = o
		}
	}
}

// scores is the top key's expected content at now, every member kept.
func (m *model) scores(now time.Time) map[string]float64 {
	hi := now.Unix()
	lo := hi - int64(window/time.Second) + 1
	out := map[string]float64{}
	for _, o := range m.seen {
		if s := o.EventTs.Unix(); s >= lo && s <= hi {
			out[o.ContentID.String] += o.EngagementSeconds.Float64
		}
	}
	return out
}

func (m *model) total() int {
	n := 0
	for _, c := range m.counts {
		n += c
	}
	return n
}

func (e *env) topScores() (map[string]float64, error) {
	zs, err := e.rdb.ZRangeWithScores(context.Background(), redissink.DefaultTopKey, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(zs))
	for _, z := range zs {
		out[z.Member.(string)] = z.Score
	}
	return out, nil
}

// diff describes how got differs from want, exactly; "" when equal.
func diff(got, want map[string]float64) string {
	var lines []string
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			lines = append(lines, fmt.Sprintf("%s: got %v (present %v), want %v", k, g, ok, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s: got %v, want absent", k, g))
		}
	}
	sort.Strings(lines)
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("... %d more", len(lines)-10))
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond until it holds; on timeout it fails with cond's last word.
func waitFor(t testing.TB, deadline time.Duration, what string, cond func() (bool, string)) {
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

// waitScores waits until the top key equals want exactly.
func (e *env) waitScores(want map[string]float64) {
	e.t.Helper()
	waitFor(e.t, 60*time.Second, "exact scores", func() (bool, string) {
		got, err := e.topScores()
		if err != nil {
			return false, err.Error()
		}
		d := diff(got, want)
		return d == "", d
	})
}

// metric returns the sum of the samples of a counter, gauge or histogram
// count named name whose labels include labels.
func metric(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// waitProcessed waits until the sink has decided n records (more would be
// redeliveries, which the callers' counter checks then report).
func waitProcessed(t testing.TB, r *running, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d records processed", n), func() (bool, string) {
		got := metric(t, r.reg, "enricher_sink_redis_events_total")
		return int(got) >= n, fmt.Sprintf("%v processed", got)
	})
}

func histogram(t testing.TB, reg prometheus.Gatherer, name string) *dto.Histogram {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("no histogram %s", name)
	return nil
}
