package redissink

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/thmanyah/enricher/internal/testredis"
	"github.com/thmanyah/enricher/schemas"
)

// BenchmarkApply measures the Redis side alone: batches of 4096 decoded
// events of 1000 contents applied with the script, their event times spread
// over the window (a replay) or within the last two seconds (live traffic).
func BenchmarkApply(b *testing.B) {
	b.Run("spread", func(b *testing.B) { benchApply(b, 500*time.Second) })
	b.Run("live", func(b *testing.B) { benchApply(b, 2*time.Second) })
}

func benchApply(b *testing.B, spread time.Duration) {
	rs := testredis.New(b)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	cfg := SinkConfig{TopKey: DefaultTopKey, Prefix: "engagement:"}
	a := newApplier(newKeys(&cfg), 10*time.Minute, rdb)
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 1))
	contents := make([]string, 1000)
	for i := range contents {
		contents[i] = uuid.NewString()
	}
	items := make([]item, 4096)
	ctx := context.Background()
	b.ResetTimer()
	for done := 0; done < b.N; done += len(items) {
		for i := range items {
			items[i] = item{out: schemas.Output{
				EventID:           int64(done + i),
				ContentID:         sql.NullString{String: contents[rng.IntN(len(contents))], Valid: true},
				EventTs:           now.Add(-time.Duration(rng.Int64N(int64(spread)))),
				EngagementSeconds: sql.NullFloat64{Float64: float64(rng.IntN(8000)) * 0.125, Valid: true},
			}}
		}
		if _, err := a.apply(ctx, items, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
