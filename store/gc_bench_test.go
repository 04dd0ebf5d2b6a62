package store

import (
	"database/sql"
	"encoding/binary"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/google/uuid"
)

const (
	gcBenchRows    = 1_000_000
	gcBenchUpdated = 200_000 // rows given a second version, so histories are in the index too
)

// gcBenchID is the id of the i-th row of BenchmarkGCWithIndex; computed, not
// kept, so the benchmark itself holds no per-row heap.
func gcBenchID(i int) uuid.UUID {
	var id uuid.UUID
	binary.LittleEndian.PutUint64(id[:8], uint64(i)*0x9e3779b97f4a7c15)
	binary.LittleEndian.PutUint64(id[8:], uint64(i))
	return id
}

// BenchmarkGCWithIndex measures what the in-memory index costs the garbage
// collector: a forced GC and the scannable heap, with an empty store and
// again with 1M rows (200k of them with two versions) loaded. Besides the
// index only Badger's structures and the writer's reusable scratch grow in
// between, so the difference is mostly the index's. ns/op is one forced GC
// with the rows loaded; gc-cpu-s-load is the GC's CPU while applying them.
func BenchmarkGCWithIndex(b *testing.B) {
	s := newTestStore(b)
	emptyMs, emptyScan := measureGC(5)

	types := []string{"podcast", "newsletter", "video"}
	var batch Batch
	apply := func(from, to int, version int64) {
		for lo := from; lo < to; lo += 10_000 {
			batch.Reset()
			for i := lo; i < min(lo+10_000, to); i++ {
				lsn := version*gcBenchRows + int64(i) + 1
				batch.Put(Change{
					ID: gcBenchID(i),
					Row: Row{Slug: "slug", Title: "title",
						ContentType:   sql.NullString{String: types[i%3], Valid: true},
						LengthSeconds: sql.NullInt32{Int32: int32(i % 3600), Valid: true}},
					Source: Source{Topic: testTopic, Offset: lsn, LSN: lsn, TsMs: benchTs0 + version*benchStep},
				})
			}
			batch.Advance(testTP, version*gcBenchRows+int64(min(lo+10_000, to)))
			mustApply(b, s, &batch)
		}
	}
	start, gc0, cpu0 := time.Now(), cpuSeconds("gc/total"), cpuSeconds("user")
	apply(0, gcBenchRows, 0)
	apply(0, gcBenchUpdated, 1)
	batch = Batch{}
	gcLoad, userLoad := cpuSeconds("gc/total")-gc0, cpuSeconds("user")-cpu0
	b.Logf("applied %d rows, %d updates in %v; CPU s: GC %.2f, user code %.2f",
		gcBenchRows, gcBenchUpdated, time.Since(start).Round(time.Millisecond), gcLoad, userLoad)
	if s.Len() != gcBenchRows {
		b.Fatalf("rows: got %d, want %d", s.Len(), gcBenchRows)
	}

	fullMs, fullScan := measureGC(5)
	for b.Loop() {
		runtime.GC()
	}
	b.ReportMetric(emptyMs, "ms/gc-empty")
	b.ReportMetric(fullMs, "ms/gc-1M")
	b.ReportMetric(gcLoad, "gc-cpu-s-load")
	b.ReportMetric(emptyScan/(1<<20), "MB-scan-empty")
	b.ReportMetric(fullScan/(1<<20), "MB-scan-1M")
	// Keep the store, and so the index, live through the measurements.
	runtime.KeepAlive(s)
}

// measureGC returns the mean wall time of a forced GC and the scannable heap
// ("/gc/scan/heap:bytes": what the mark phase has to scan) after them.
func measureGC(n int) (ms, scanBytes float64) {
	runtime.GC()
	start := time.Now()
	for range n {
		runtime.GC()
	}
	ms = float64(time.Since(start).Microseconds()) / 1000 / float64(n)
	sample := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		scanBytes = float64(sample[0].Value.Uint64())
	}
	return ms, scanBytes
}

// cpuSeconds reads a /cpu/classes/ metric: the runtime's estimate of CPU
// time spent, across all threads, in that class (e.g. "gc/total").
func cpuSeconds(class string) float64 {
	sample := []metrics.Sample{{Name: "/cpu/classes/" + class + ":cpu-seconds"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return sample[0].Value.Float64()
}
