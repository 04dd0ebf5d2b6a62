package main

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkCommitLatency measures, one commit at a time, how long after a
// Postgres COMMIT returns the content row is in the view (commit-to-view) and
// an engagement event's enriched record is on processed_engagements
// (commit-to-enriched), through capture, kfake and the service.
func BenchmarkCommitLatency(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := startPipeline(b, nil)
	pg, kc, tm := p.pg, p.kc, p.tm

	arrived := make(chan string, 1024)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs()...), kgo.ConsumeTopics(outputTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	go func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { arrived <- string(r.Key) })
		}
	}()
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())

	var toView, toEnriched []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := uuid.New()
		if _, err := conn.Exec(ctx, `INSERT INTO content VALUES ($1,$2,'t','video',600,now())`, id, id.String()); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for {
			if _, ok := tm.Store.Current(id); ok {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("content never reached the view")
			}
		}
		toView = append(toView, time.Since(start))

		if _, err := conn.Exec(ctx, `INSERT INTO engagement_events (id, content_id, event_ts, duration_ms) VALUES ($1,$2,now(),1000)`, i+1, id); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		want := strconv.Itoa(i + 1)
		for key := range arrived {
			if key == want {
				break
			}
		}
		toEnriched = append(toEnriched, time.Since(start))
	}
	b.StopTimer()
	report := func(name string, d []time.Duration) {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
	report("commit-to-view", toView)
	report("commit-to-enriched", toEnriched)
}
