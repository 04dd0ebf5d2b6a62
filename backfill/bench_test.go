package backfill

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkBackfill sends the seeded range (100,000 rows of 120,000) from a
// temporary Postgres into kfake, end to end: count, pages, JSON, acks,
// checkpoints. It reports rows per second.
//
//	go test -run '^$' -bench Backfill -benchtime 3x ./backfill
func BenchmarkBackfill(b *testing.B) {
	pgURL, _ := seededDB(b)
	n, _, _ := wantCount()
	var el time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		kc := newKafka(b)
		cfg := testConfig(b, pgURL, kc)
		cfg.Checkpoint = filepath.Join(b.TempDir(), "cp")
		b.StartTimer()
		start := time.Now()
		res, err := Run(context.Background(), cfg)
		el += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if res.Sent != n {
			b.Fatalf("sent %d, want %d", res.Sent, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/el.Seconds(), "rows/s")
}
