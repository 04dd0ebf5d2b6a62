package enricher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// sliceFetcher hands out offsets 0..n-1 of one partition, then blocks.
type sliceFetcher struct {
	mu   sync.Mutex
	next int64
	n    int64
}

func newSliceFetcher(n int64) *sliceFetcher {
	return &sliceFetcher{n: n}
}

func (f *sliceFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	f.mu.Lock()
	if f.next < f.n {
		m := kafka.Message{Topic: "t", Offset: f.next}
		f.next++
		f.mu.Unlock()
		return m, nil
	}
	f.mu.Unlock()
	<-ctx.Done()
	return kafka.Message{}, ctx.Err()
}

// recorder keeps the offsets deliver saw, in delivery order.
type recorder struct {
	mu        sync.Mutex
	offsets   []int64
	committed int64         // next offset after the highest committed
	delivered chan struct{} // signalled after each delivery
}

func (r *recorder) deliver(_, _ context.Context, b *batch) error {
	r.mu.Lock()
	for _, m := range b.in {
		r.offsets = append(r.offsets, m.Offset)
	}
	r.mu.Unlock()
	select {
	case r.delivered <- struct{}{}:
	default:
	}
	return nil
}

// commit checks that offsets are committed only once delivered.
func (r *recorder) commit(_, _ context.Context, done []*batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range lastOfRuns(nil, done) {
		if m.Offset >= int64(len(r.offsets)) || r.offsets[m.Offset] != m.Offset {
			panic(fmt.Sprintf("offset %d committed before it was delivered", m.Offset))
		}
		r.committed = max(r.committed, m.Offset+1)
	}
}

func (r *recorder) got() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.offsets)
}

// busy does an amount of work that differs from batch to batch, so that
// workers finish out of order.
func busy(seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	for range rng.IntN(2000) {
		runtime.Gosched()
	}
}

func testPipeline(transform func(ctx, workCtx context.Context, b *batch) error, rec *recorder) pipeline {
	return pipeline{batchSize: 7, linger: time.Millisecond, workers: 4, grace: 10 * time.Second, transform: transform, deliver: rec.deliver, commit: rec.commit}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPipelineDeliversInFetchOrder(t *testing.T) {
	const n = 5000
	f := newSliceFetcher(n)
	rec := &recorder{delivered: make(chan struct{}, 1)}
	p := testPipeline(func(_, _ context.Context, b *batch) error {
		busy(b.in[0].Offset)
		return nil
	}, rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.run(ctx, f) }()
	waitFor(t, "every record delivered", func() bool { return len(rec.got()) == n })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	got := rec.got()
	for i, off := range got {
		if off != int64(i) {
			t.Fatalf("delivery %d is offset %d; want fetch order", i, off)
		}
	}
	if rec.committed != n {
		t.Fatalf("committed up to %d; want %d", rec.committed, n)
	}
}

func TestPipelineStopsDeliveringAfterAFailedBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failAt  int64 // the batch holding this offset fails
		err     error
		wantErr bool
	}{
		{"poisoned transform", 300, errors.New("store failed"), true},
		{"shutdown mid-batch", 300, errShutdown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSliceFetcher(2000)
			rec := &recorder{delivered: make(chan struct{}, 1)}
			p := testPipeline(func(_, _ context.Context, b *batch) error {
				busy(b.in[0].Offset)
				for _, m := range b.in {
					if m.Offset == tc.failAt {
						return tc.err
					}
				}
				return nil
			}, rec)
			err := p.run(context.Background(), f)
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("run returned %v; want error %v", err, tc.wantErr)
			}
			got := rec.got()
			// Everything before the failed batch, in order, and nothing after it.
			if len(got) == 0 || len(got) > int(tc.failAt) || int(tc.failAt)-len(got) >= p.batchSize {
				t.Fatalf("delivered %d records; want those of the batches before offset %d", len(got), tc.failAt)
			}
			for i, off := range got {
				if off != int64(i) {
					t.Fatalf("delivery %d is offset %d", i, off)
				}
			}
			if rec.committed != int64(len(got)) {
				t.Fatalf("committed up to %d of %d delivered", rec.committed, len(got))
			}
		})
	}
}

func TestPipelineDrainsBatchesInFlightAtShutdown(t *testing.T) {
	f := newSliceFetcher(1000)
	rec := &recorder{delivered: make(chan struct{}, 1)}
	release := make(chan struct{})
	var mu sync.Mutex
	var transformed []int64
	p := testPipeline(func(ctx, _ context.Context, b *batch) error {
		<-release // hold every batch until shutdown has begun
		mu.Lock()
		transformed = append(transformed, b.in[0].Offset)
		mu.Unlock()
		return nil
	}, rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.run(ctx, f) }()
	// Wait until every worker holds a batch and the fetcher is blocked on the next.
	waitFor(t, "batches in flight", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.next >= int64(p.workers*p.batchSize)
	})
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	got := rec.got()
	if len(got) < p.workers*p.batchSize {
		t.Fatalf("delivered %d records after shutdown; want the %d in flight", len(got), p.workers*p.batchSize)
	}
	for i, off := range got {
		if off != int64(i) {
			t.Fatalf("delivery %d is offset %d", i, off)
		}
	}
	if rec.committed != int64(len(got)) {
		t.Fatalf("committed up to %d of %d delivered", rec.committed, len(got))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(transformed)*p.batchSize < len(got) {
		t.Fatalf("delivered %d records from %d transformed batches", len(got), len(transformed))
	}
}
