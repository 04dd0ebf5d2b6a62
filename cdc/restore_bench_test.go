package cdc

import (
	"context"
	"encoding/binary"
	"os"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/testkafka"
)

const restorePartitions = 6

// restoreRows is what `enricher bench` restores; RESTORE_ROWS changes it.
var restoreRows = 100_000

// BenchmarkRestore rebuilds the view from an empty data dir, as a new
// instance does: a compacted topic of plain JSON snapshot records (like
// `enricher bench` writes), read, decoded and applied until Ready. The broker
// runs in this process, as kfake does in `enricher bench`, so it competes for
// the same CPUs. RESTORE_CPUPROFILE=file profiles the restores, not the
// loading of the topic (b.Loop runs the body, and so the loading, once).
func BenchmarkRestore(b *testing.B) {
	if v := os.Getenv("RESTORE_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("RESTORE_ROWS=%q: want a positive number", v)
		}
		restoreRows = n
	}
	kc := testkafka.New(b)
	kc.Topic(topic, restorePartitions, map[string]string{"cleanup.policy": "compact"})
	produceSnapshot(b, kc, restoreRows)

	var took, cpu time.Duration
	if path := os.Getenv("RESTORE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	b.ReportAllocs()
	for b.Loop() {
		cpu0 := cpuTime()
		took += restoreOnce(b, kc)
		cpu += cpuTime() - cpu0
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "s/restore")
	// The machine is shared: CPU time is a steadier figure than wall time.
	// It includes the in-process broker's.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/restore")
	b.ReportMetric(float64(restoreRows*b.N)/took.Seconds(), "rows/s")
}

// restoreOnce opens an empty store, runs a consumer until it is ready and
// returns how long that took.
func restoreOnce(b *testing.B, kc *testkafka.Cluster) time.Duration {
	b.Helper()
	start := time.Now()
	st := openStore(b, b.TempDir())
	c := newConsumer(b, kc, st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-c.ReadyC():
	case <-time.After(5 * time.Minute):
		b.Fatal("not ready after 5 minutes")
	}
	took := time.Since(start)
	b.StopTimer()
	defer b.StartTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatalf("run: %v", err)
	}
	if got := st.Len(); got != restoreRows {
		b.Fatalf("rows: got %d, want %d", got, restoreRows)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return took
}

// produceSnapshot writes rows snapshot records ('r'), keyed by id.
func produceSnapshot(b *testing.B, kc *testkafka.Cluster, rows int) {
	b.Helper()
	w, err := dbztest.New()
	if err != nil {
		b.Fatal(err)
	}
	ts := time.Now().Add(-time.Hour)
	typ, length := "podcast", int32(1800)
	recs := make([]*kgo.Record, 0, 10_000)
	for i := range rows {
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[0:8], 0xbe4c000000004000)
		binary.BigEndian.PutUint64(id[8:16], uint64(i)|0x8000000000000000)
		row := &dbztest.Content{ID: id, Slug: "episode-" + strconv.Itoa(i), Title: "Episode " + strconv.Itoa(i),
			ContentType: &typ, LengthSeconds: &length, PublishTS: ts.Add(-24 * time.Hour)}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % restorePartitions),
			Key:   w.Key(dbztest.FormPlain, id),
			Value: w.Change(dbztest.FormPlain, 'r', row, dbztest.Source{LSN: int64(1000 + i), TsMs: ts.UnixMilli(), TxID: int64(i)})})
		if len(recs) == cap(recs) || i == rows-1 {
			kc.Produce(recs...)
			recs = recs[:0]
		}
	}
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
