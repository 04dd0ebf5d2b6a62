package redissink_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/internal/promq"
	"github.com/thmanyah/enricher/schemas"
	redissink "github.com/thmanyah/enricher/sink/redis"
)

// benchEvents returns n unique events over 1000 contents, all inside the
// window at now.
func benchEvents(n int, now time.Time) []schemas.Output {
	rng := rand.New(rand.NewPCG(7, 8))
	contents := contentIDs(1000)
	types := []string{"podcast", "newsletter", "video"}
	out := make([]schemas.Output, n)
	for i := range out {
		c := rng.IntN(len(contents))
		out[i] = schemas.Output{
			EventID:           int64(i + 1),
			ContentID:         sql.NullString{String: contents[c], Valid: true},
			ContentType:       sql.NullString{String: types[c%3], Valid: true},
			EventTs:           now.Add(-time.Duration(rng.Int64N(int64(500 * time.Second)))),
			EngagementSeconds: sql.NullFloat64{Float64: float64(rng.IntN(8000)) * 0.125, Valid: true},
		}
	}
	return out
}

func production(c *redissink.SinkConfig) {
	c.MergeInterval, c.MergeGap = 0, 0 // the defaults: 1s, 100ms
}

// BenchmarkThroughput drains a backlog of b.N records (one op = one record)
// with the production merge settings: run with -benchtime 200000x.
func BenchmarkThroughput(b *testing.B) {
	e := newEnv(b)
	outs := benchEvents(b.N, e.clock.Now())
	e.produce(outs)
	b.ResetTimer()
	start := time.Now()
	r := e.start("bench-throughput", production)
	waitProcessed(b, r, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	h := histogram(b, r.reg, "enricher_sink_redis_merge_seconds")
	b.ReportMetric(promq.Quantile(h, 0.99)*1000, "merge-p99-ms")
	if got := metric(b, r.reg, "enricher_sink_redis_events_total", "outcome", "applied"); int(got) != b.N {
		b.Fatalf("applied %v, want %d", got, b.N)
	}
}

// BenchmarkFreshness produces b.N records at 10,000 a second to a running
// sink (wall clock, production merge settings) and reports the freshness
// histogram's p50 and p99: run with -benchtime 100000x.
func BenchmarkFreshness(b *testing.B) {
	const rate = 10_000
	e := newEnv(b)
	r := e.start("bench-freshness", func(c *redissink.SinkConfig) { production(c); c.Now = time.Now })
	outs := benchEvents(b.N, time.Now())
	vals := make([][]byte, len(outs))
	for i := range outs {
		v, err := e.enc.Append(nil, &outs[i])
		if err != nil {
			b.Fatal(err)
		}
		vals[i] = v
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sent := 0; sent < len(outs); {
		<-tick.C
		due := min(int(time.Since(start).Seconds()*rate)+1, len(outs))
		for ; sent < due; sent++ {
			o := &outs[sent]
			e.kc.Client.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(o.EventID % partitions),
				Key: []byte(strconv.FormatInt(o.EventID, 10)), Value: vals[sent]}, func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			})
		}
	}
	waitProcessed(b, r, b.N)
	b.StopTimer()
	waitFor(b, 10*time.Second, "every applied record to be merged", func() (bool, string) {
		n := metric(b, r.reg, redissink.FreshnessMetric)
		return int(n) == b.N, strconv.Itoa(int(n))
	})
	h := histogram(b, r.reg, redissink.FreshnessMetric)
	b.ReportMetric(promq.Quantile(h, 0.50)*1000, "fresh-p50-ms")
	b.ReportMetric(promq.Quantile(h, 0.99)*1000, "fresh-p99-ms")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	m := histogram(b, r.reg, "enricher_sink_redis_merge_seconds")
	b.ReportMetric(promq.Quantile(m, 0.99)*1000, "merge-p99-ms")
}
