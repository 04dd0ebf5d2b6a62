package redissink_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/schemas"
	redissink "github.com/thmanyah/enricher/sink/redis"
)

// TestExactScores feeds a randomized stream with duplicates, a full replay,
// late and out-of-window events, and checks every member's score against the
// reference exactly, before and after the window slides.
func TestExactScores(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	contents := contentIDs(40)
	m := newModel()
	r := e.start("sink-exact", nil)

	first := gen(rng, 1, 3000, e.clock.Now(), contents)
	stream := withDuplicates(rng, first, 0.1)
	e.produce(stream)
	m.feed(e.clock.Now(), stream)
	waitProcessed(t, r, m.total())
	e.waitScores(m.scores(e.clock.Now()))

	// Kafka replays everything: nothing changes.
	e.produce(stream)
	m.feed(e.clock.Now(), stream)
	waitProcessed(t, r, m.total())
	e.waitScores(m.scores(e.clock.Now()))

	// Late events (inside the window, behind newer ones), with duplicates.
	e.clock.Add(95 * time.Second)
	late := gen(rng, 10_001, 1000, e.clock.Now(), contents)
	late = withDuplicates(rng, late, 0.2)
	e.produce(late)
	m.feed(e.clock.Now(), late)
	waitProcessed(t, r, m.total())
	e.waitScores(m.scores(e.clock.Now()))

	// The window slides by event time with no record arriving: old events
	// leave, events that were ahead of it enter.
	for _, step := range []time.Duration{time.Second, 59 * time.Second, 3*time.Minute + 500*time.Millisecond, 7 * time.Minute} {
		e.clock.Add(step)
		e.waitScores(m.scores(e.clock.Now()))
	}

	for _, o := range []string{"applied", "duplicate", "out_of_window", "no_content"} {
		if got := metric(t, r.reg, "enricher_sink_redis_events_total", "outcome", o); int(got) != m.counts[o] {
			t.Errorf("events %s: got %v, want %d", o, got, m.counts[o])
		}
	}
	if got := metric(t, r.reg, "enricher_sink_redis_rebuilds_total"); got != 1 {
		t.Errorf("rebuilds: got %v, want 1 (the first start)", got)
	}
}

// TestTopTrimsAndTypes keeps only the highest members and records content types.
func TestTopTrimsAndTypes(t *testing.T) {
	e := newEnv(t)
	r := e.start("sink-top", func(c *redissink.SinkConfig) { c.Top = 2 })
	now := e.clock.Now()
	ev := func(id int64, content string, secs float64, typ string) schemas.Output {
		o := schemas.Output{EventID: id, EventTs: now, ContentID: sql.NullString{String: content, Valid: true},
			EngagementSeconds: sql.NullFloat64{Float64: secs, Valid: true}}
		if typ != "" {
			o.ContentType = sql.NullString{String: typ, Valid: true}
		}
		return o
	}
	outs := []schemas.Output{ev(1, "a", 1, "video"), ev(2, "b", 5, "podcast"), ev(3, "c", 3, ""), ev(4, "a", 1.5, "video")}
	e.produce(outs)
	waitProcessed(t, r, len(outs))
	e.waitScores(map[string]float64{"b": 5, "c": 3})
	types, err := e.rdb.HGetAll(context.Background(), "engagement:content_type").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(types) != 2 || types["a"] != "video" || types["b"] != "podcast" {
		t.Errorf("content types: got %v, want a=video b=podcast", types)
	}
}

// TestRestartAndReplay stops the sink, produces more (and old records again),
// starts it again, then runs a sink of a new group over the whole topic:
// nothing is counted twice.
func TestRestartAndReplay(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(3, 4))
	contents := contentIDs(25)
	m := newModel()

	r1 := e.start("sink-a", nil)
	a := withDuplicates(rng, gen(rng, 1, 2000, e.clock.Now(), contents), 0.1)
	e.produce(a)
	m.feed(e.clock.Now(), a)
	waitProcessed(t, r1, m.total())
	e.waitScores(m.scores(e.clock.Now()))
	r1.stop()

	b := withDuplicates(rng, append(gen(rng, 5001, 1500, e.clock.Now(), contents), a[:700]...), 0.1)
	e.produce(b)
	r2 := e.start("sink-a", nil)
	mb := newModel()
	mb.seen = m.seen
	mb.feed(e.clock.Now(), b)
	waitProcessed(t, r2, mb.total())
	e.waitScores(mb.scores(e.clock.Now()))
	if got := metric(t, r2.reg, "enricher_sink_redis_events_total", "outcome", "applied"); int(got) != mb.counts["applied"] {
		t.Errorf("restarted sink applied %v, want %d", got, mb.counts["applied"])
	}
	r2.stop()

	// A new group reads the topic from its start, as a crash before any
	// commit would: every record is a duplicate or out of the window.
	r3 := e.start("sink-b", nil)
	waitProcessed(t, r3, len(a)+len(b))
	if got := metric(t, r3.reg, "enricher_sink_redis_events_total", "outcome", "applied"); got != 0 {
		t.Errorf("replaying sink applied %v events, want 0", got)
	}
	e.waitScores(mb.scores(e.clock.Now()))
}

// TestRedisDownAndBack stops redis-server (losing its data: no persistence),
// produces while it is down, and starts it again on the same port: the sink
// holds its offsets meanwhile, then rebuilds the window from Kafka.
func TestRedisDownAndBack(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(5, 6))
	contents := contentIDs(30)
	m := newModel()
	r := e.start("sink-down", nil)

	a := withDuplicates(rng, gen(rng, 1, 2000, e.clock.Now(), contents), 0.1)
	e.produce(a)
	m.feed(e.clock.Now(), a)
	waitProcessed(t, r, m.total())
	e.waitScores(m.scores(e.clock.Now()))
	before := int64(len(a))
	waitFor(t, 30*time.Second, "the first records to be committed", func() (bool, string) {
		got := committed(t, e, "sink-down")
		return got == before, strconv.FormatInt(got, 10)
	})

	e.rs.Stop()
	b := withDuplicates(rng, gen(rng, 5001, 1500, e.clock.Now(), contents), 0.1)
	e.produce(b)
	m.feed(e.clock.Now(), b)
	waitFor(t, 30*time.Second, "the sink to retry", func() (bool, string) {
		return metric(t, r.reg, "enricher_sink_redis_retries_total", "reason", "redis") >= 3, "no retries yet"
	})
	if after := committed(t, e, "sink-down"); after != before {
		t.Fatalf("offsets committed while redis was down: %v, then %v", before, after)
	}

	e.rs.Start()
	e.waitScores(m.scores(e.clock.Now()))
	waitFor(t, 30*time.Second, "a rebuild after the loss", func() (bool, string) {
		got := metric(t, r.reg, "enricher_sink_redis_rebuilds_total")
		return got >= 2, fmt.Sprintf("%v rebuilds (the first start is one)", got)
	})
	waitFor(t, 30*time.Second, "offsets to be committed", func() (bool, string) {
		after := committed(t, e, "sink-down")
		return after == before+int64(len(b)), strconv.FormatInt(after, 10)
	})
	// The window keeps sliding exactly after the rebuild.
	e.clock.Add(4 * time.Minute)
	e.waitScores(m.scores(e.clock.Now()))
}

// committed returns the sum of a group's committed offsets on the topic.
func committed(t *testing.T, e *env, group string) int64 {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(e.kc.Addrs()...), Timeout: 10 * time.Second}
	res, err := cl.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range res.Topics[topic] {
		sum += max(p.CommittedOffset, 0)
	}
	return sum
}

// TestDeadLetters sends undecodable records and impossible seconds to the
// DLQ with headers, and keeps going.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t)
	r := e.start("sink-dlq", nil)
	good := schemas.Output{EventID: 7, EventTs: e.clock.Now(), ContentID: sql.NullString{String: "x", Valid: true},
		EngagementSeconds: sql.NullFloat64{Float64: 2.5, Valid: true}}
	bad := good
	bad.EventID, bad.EngagementSeconds.Float64 = 8, math.Inf(1)
	v, err := e.enc.Append(nil, &bad)
	if err != nil {
		t.Fatal(err)
	}
	e.kc.Produce(&kgo.Record{Topic: topic, Partition: 1, Key: []byte("junk"), Value: []byte("not avro")},
		&kgo.Record{Topic: topic, Partition: 2, Key: []byte("8"), Value: v})
	e.produce([]schemas.Output{good})
	waitProcessed(t, r, 3)
	e.waitScores(map[string]float64{"x": 2.5})
	recs := e.kc.ReadAll(dlqTopic, 2, 30*time.Second)
	if len(recs) != 2 {
		t.Fatalf("dlq: got %d records, want 2", len(recs))
	}
	for _, rec := range recs {
		h := map[string]string{}
		for _, kv := range rec.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if h[dlq.HeaderStage] != redissink.Stage || h[dlq.HeaderTopic] != topic || h[dlq.HeaderError] == "" ||
			h[dlq.HeaderPartition] == "" || h[dlq.HeaderOffset] == "" || h[dlq.HeaderFailedAt] == "" {
			t.Errorf("dlq record %q: headers %v", rec.Key, h)
		}
	}
	// Counted after the DLQ write returns, which can be after it is readable.
	waitFor(t, 30*time.Second, "2 dlq events counted", func() (bool, string) {
		got := metric(t, r.reg, "enricher_sink_redis_events_total", "outcome", "dlq")
		return got == 2, fmt.Sprintf("%v counted", got)
	})
}
