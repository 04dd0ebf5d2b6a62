package store

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

const (
	benchRows     = 100_000
	benchVersions = 3
	benchBatch    = 1000
	benchTs0      = 1_700_000_000_000 // ms; version k of a row is valid from benchTs0 + k*benchStep
	benchStep     = 3_600_000
)

var bench struct {
	rowsOnce sync.Once
	ids      []uuid.UUID
	rows     []Row

	dirOnce sync.Once
	dir     string
	dirErr  error

	mu sync.Mutex
	s  *Store // the warm view over dir, opened on demand
}

func TestMain(m *testing.M) {
	code := m.Run()
	bench.mu.Lock()
	if bench.s != nil {
		bench.s.Close()
	}
	bench.mu.Unlock()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchData returns benchRows random ids and plausible rows for them.
func benchData() ([]uuid.UUID, []Row) {
	bench.rowsOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		types := []string{"podcast", "newsletter", "video"}
		bench.ids = make([]uuid.UUID, benchRows)
		bench.rows = make([]Row, benchRows)
		for i := range bench.ids {
			for j := range bench.ids[i] {
				bench.ids[i][j] = byte(r.Uint32())
			}
			bench.rows[i] = Row{
				Slug:          fmt.Sprintf("episode-%d-of-the-weekly-show", i),
				Title:         fmt.Sprintf("Episode %d: a conversation about things that matter", i),
				ContentType:   sql.NullString{String: types[i%3], Valid: true},
				LengthSeconds: sql.NullInt32{Int32: int32(600 + i%3000), Valid: true},
				PublishMicros: int64(i) * 1e9,
			}
		}
	})
	return bench.ids, bench.rows
}

// fillBatch makes batch number bi: rows [bi*1000, bi*1000+1000) modulo
// benchRows, as version bi/100 of each.
func fillBatch(b *Batch, bi int) {
	ids, rows := benchData()
	b.Reset()
	for j := range benchBatch {
		r := (bi*benchBatch + j) % benchRows
		lsn := int64(bi*benchBatch + j + 1)
		b.Put(Change{
			ID:     ids[r],
			Row:    rows[r],
			Source: Source{Topic: testTopic, Offset: lsn, LSN: lsn, TsMs: benchTs0 + int64(bi*benchBatch/benchRows)*benchStep + int64(j)},
		})
	}
	b.Advance(testTP, int64((bi+1)*benchBatch))
}

// benchDir builds, once, a closed store of benchRows rows with benchVersions
// versions each.
func benchDir(b *testing.B) string {
	bench.dirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "store-bench-")
		if err != nil {
			bench.dirErr = err
			return
		}
		bench.dir = dir
		s, err := Open(Options{Dir: dir})
		if err != nil {
			bench.dirErr = err
			return
		}
		var batch Batch
		start := time.Now()
		for bi := range benchRows * benchVersions / benchBatch {
			fillBatch(&batch, bi)
			if _, err := s.Apply(&batch); err != nil {
				bench.dirErr = err
				return
			}
		}
		b.Logf("built %d rows x %d versions in %v", benchRows, benchVersions, time.Since(start))
		bench.dirErr = s.Close()
	})
	if bench.dirErr != nil {
		b.Fatalf("bench dir: %v", bench.dirErr)
	}
	return bench.dir
}

func warmStore(b *testing.B) *Store {
	dir := benchDir(b)
	bench.mu.Lock()
	defer bench.mu.Unlock()
	if bench.s == nil {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			b.Fatalf("open: %v", err)
		}
		bench.s = s
	}
	return bench.s
}

func closeWarmStore(b *testing.B) {
	bench.mu.Lock()
	defer bench.mu.Unlock()
	if bench.s != nil {
		if err := bench.s.Close(); err != nil {
			b.Fatalf("close: %v", err)
		}
		bench.s = nil
	}
}

// BenchmarkApply measures the steady state: batches of upserts to rows that
// exist, over a store already holding all benchRows rows.
func BenchmarkApply(b *testing.B) {
	benchData()
	s := newTestStore(b)
	var batch Batch
	const fill = benchRows / benchBatch
	for i := range fill {
		fillBatch(&batch, i)
		mustApply(b, s, &batch)
	}
	b.ReportAllocs()
	for i := fill; b.Loop(); i++ {
		fillBatch(&batch, i)
		if _, err := s.Apply(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "changes/s")
}

// benchLookups is a power-of-two list of ids to look up, so the loop indexes
// with a mask.
func benchLookups() []uuid.UUID {
	ids, _ := benchData()
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]uuid.UUID, 1<<17)
	for i := range out {
		out[i] = ids[r.IntN(len(ids))]
	}
	return out
}

func BenchmarkCurrent(b *testing.B) {
	s := warmStore(b)
	ids := benchLookups()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := s.Current(ids[i&(len(ids)-1)]); !ok {
			b.Fatal("row missing")
		}
	}
}

func BenchmarkAsOf(b *testing.B) {
	s := warmStore(b)
	ids := benchLookups()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// Times spread over the whole history, before, inside and after it.
		at := benchTs0 - benchStep + int64(i%(benchVersions+1))*benchStep + 1000
		if _, ok := s.AsOf(ids[i&(len(ids)-1)], at); !ok {
			b.Fatal("row missing")
		}
	}
}

func BenchmarkCurrentParallel(b *testing.B) {
	s := warmStore(b)
	ids := benchLookups()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := rand.IntN(len(ids)); pb.Next(); i++ {
			s.Current(ids[i&(len(ids)-1)])
		}
	})
}

// BenchmarkOpen restores the 100k-row view: checksums, scan and index build.
func BenchmarkOpen(b *testing.B) {
	dir := benchDir(b)
	closeWarmStore(b)
	var (
		before, after runtime.MemStats
		rss           int64
	)
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		s, err := Open(Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.Len() != benchRows {
			b.Fatalf("rows: got %d, want %d", s.Len(), benchRows)
		}
		rss = residentBytes()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	// Go heap held by an open store (index plus Badger's own structures),
	// and the whole test process's resident set with the store open.
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "MB-heap")
	if rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "MB-rss")
	}
}

// residentBytes reads VmRSS on Linux; 0 elsewhere.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
