package store

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
)

const searchBenchRows = 1_000_000

// BenchmarkSearch measures one Search call over a view of a million rows
// (one version each, rows shaped like benchData's), built once per run in
// a temporary directory: a prefix most rows match (a page fills at once),
// one that matches a row in ten thousand, and one that matches nothing,
// which examines SearchScanLimit rows per call.
func BenchmarkSearch(b *testing.B) {
	s := openTestStore(b, Options{Dir: b.TempDir()})
	r := rand.New(rand.NewPCG(5, 6))
	types := []string{"podcast", "newsletter", "video"}
	var batch Batch
	start := time.Now()
	for i := range searchBenchRows {
		var id uuid.UUID
		for j := range id {
			id[j] = byte(r.Uint32())
		}
		batch.Put(Change{
			ID: id,
			Row: Row{
				Slug:          fmt.Sprintf("episode-%d-of-the-weekly-show", i),
				Title:         fmt.Sprintf("Episode %d: a conversation about things that matter", i),
				ContentType:   sql.NullString{String: types[i%3], Valid: true},
				LengthSeconds: sql.NullInt32{Int32: int32(600 + i%3000), Valid: true},
				PublishMicros: int64(i) * 1e9,
			},
			Source: Source{Topic: testTopic, Offset: int64(i), LSN: int64(i + 1), TsMs: benchTs0 + int64(i)},
		})
		if batch.Len() == 10*benchBatch {
			batch.Advance(testTP, int64(i+1))
			mustApply(b, s, &batch)
			batch.Reset()
		}
	}
	mustApply(b, s, &batch)
	b.Logf("built %d rows in %v", s.Len(), time.Since(start))

	for _, bc := range []struct{ name, prefix string }{
		{"often", "EPISODE"},
		{"rare", "episode-4242"},
		{"never", "no-such-slug"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				recs, _, err := s.Search(bc.prefix, uuid.Nil, 100)
				if err != nil {
					b.Fatal(err)
				}
				n = len(recs)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
			b.ReportMetric(float64(n), "rows")
		})
	}
	// The whole view, scan limit and all, for a prefix that matches nothing.
	b.Run("never-all-pages", func(b *testing.B) {
		for b.Loop() {
			after, calls := uuid.Nil, 0
			for {
				_, next, err := s.Search("no-such-slug", after, 100)
				if err != nil {
					b.Fatal(err)
				}
				calls++
				if next == uuid.Nil {
					break
				}
				after = next
			}
			b.ReportMetric(float64(calls), "calls")
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/view")
	})
}
