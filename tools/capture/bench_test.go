package capture

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testkafka"
)

// BenchmarkCapture measures the whole path, Postgres commit to Kafka
// acknowledgement (kfake in process, acks=all): rows per second and the
// latency from a transaction's commit timestamp to Kafka acknowledging its
// records. Run it with -benchtime=1x; each iteration inserts the workload once.
//
//	bulk:    50,000 rows in 100 transactions of 500 (INSERT ... SELECT), live
//	single:  2,000 one-row transactions, back to back from one connection, live
//	catchup: the bulk workload committed while capture is stopped, then
//	         drained by a restarted capture (capture alone sets the pace;
//	         latency then only says how long the backlog took)
func BenchmarkCapture(b *testing.B) {
	for _, w := range []struct {
		name       string
		txs, batch int
		catchup    bool
	}{{"bulk", 100, 500, false}, {"single", 2000, 1, false}, {"catchup", 100, 500, true}} {
		b.Run(w.name, func(b *testing.B) { benchCapture(b, w.txs, w.batch, w.catchup) })
	}
}

func benchCapture(b *testing.B, txs, batch int, catchup bool) {
	e := newEnv(b)
	const cid = "10000000-0000-4000-8000-000000000001"
	e.exec(b, `INSERT INTO content VALUES ($1,'one','One','podcast',1200,now())`, cid)
	sql := fmt.Sprintf(`INSERT INTO engagement_events (content_id, user_id, event_type, event_ts, duration_ms, device, raw_payload)
		SELECT $1, gen_random_uuid(), 'play', now(), (random()*600000)::int, 'ios',
		       jsonb_build_object('app_version', '5.12.0', 'position_ms', g, 'network', 'wifi')
		FROM generate_series(1, %d) g`, batch)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		lastAck   time.Time
		elapsed   time.Duration
		inserting time.Duration
	)
	hook := func(commit time.Time) {
		now := time.Now()
		mu.Lock()
		latencies = append(latencies, now.Sub(commit))
		lastAck = now
		mu.Unlock()
	}
	insert := func() time.Time {
		begin := time.Now()
		for range txs {
			e.exec(b, sql, cid)
		}
		inserting += time.Since(begin)
		return begin
	}
	await := func(begin time.Time) {
		testkafka.Eventually(b, 120*time.Second, "every transaction acknowledged", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(latencies) >= txs
		})
		mu.Lock()
		elapsed += lastAck.Sub(begin)
		mu.Unlock()
	}
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		setHook := func(c *Capture) { c.ackHook = hook }
		r := run(b, e.config(), setHook)
		testkafka.Eventually(b, 60*time.Second, "the snapshot", func() bool { return r.c.Stats().SnapshotDone })
		if catchup {
			if err := r.stop(); err != nil {
				b.Fatal(err)
			}
			insert()
			begin := time.Now()
			r = run(b, e.config(), setHook)
			await(begin)
		} else {
			await(insert())
		}
		mu.Lock()
		all = append(all, latencies...)
		latencies = latencies[:0]
		mu.Unlock()
		if err := r.stop(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	rows := float64(txs * batch * b.N)
	b.ReportMetric(rows/elapsed.Seconds(), "rows/s")
	b.ReportMetric(rows/inserting.Seconds(), "insert-rows/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
