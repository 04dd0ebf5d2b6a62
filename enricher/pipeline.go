package enricher

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/retry"
)

// batch is one fetched batch on its way through the pipeline. Its buffers
// are reused from batch to batch so the hot path does not allocate per event.
type batch struct {
	in      []kafka.Message
	fetched time.Time // when its first record was fetched: a held event's wait starts here
	events  []item
	misses  []int
	out     []kafka.Message
	headers []kafka.Header
	arena   []byte
	counts  outcomes
	start   time.Time
	done    chan error // the transform's result; buffered, so a worker never waits
}

func newBatch(size int) *batch {
	return &batch{in: make([]kafka.Message, 0, size), done: make(chan error, 1)}
}

// pipeline is the consume–transform–produce–commit loop. Batches are fetched
// one after another, transformed by up to workers goroutines at once (the
// CPU-bound part: decode, join, encode), and delivered (produced, then their
// offsets committed) one at a time in fetch order. Delivery in fetch order is
// what keeps the at-least-once guarantee with batches in flight: a
// partition's offset is committed only after the output of every record
// before it was acknowledged, and once one batch fails no later batch is
// delivered. While batch n is produced, batch n+1 is being transformed, so
// broker round trips no longer stall the CPU work.
type pipeline struct {
	batchSize int
	linger    time.Duration
	workers   int
	grace     time.Duration // how long batches in flight may take to finish after ctx ends
	// transform fills b.out from b.in. ctx ends at shutdown or when the
	// pipeline stops on an error; workCtx outlives ctx by the grace period.
	// errShutdown leaves the batch, and every later one, undelivered.
	transform func(ctx, workCtx context.Context, b *batch) error
	// deliver produces b.out and returns once the broker acknowledged it.
	// b is nil when wake fired: the transform's caller has records of its
	// own to deliver (events it held for late content).
	deliver func(ctx, workCtx context.Context, b *batch) error
	// commit stores the offsets of what was delivered so far; done holds the
	// batches delivered since the last call (nil for a delivery on wake). A
	// failed commit is not fatal: the next one covers its offsets too, and
	// at worst records are read again.
	commit func(ctx, workCtx context.Context, done []*batch)
	// wake, when not nil, asks for a delivery of nil between batches.
	wake <-chan struct{}
}

// newPipeline returns a pipeline of these sizes, a zero or negative one
// taking its default: 4096 records, 5ms, GOMAXPROCS+2 workers. The transform
// is CPU-bound, so a worker per P keeps every core busy and two spare cover
// workers waiting on the Schema Registry; more only hold memory, since every
// batch in flight keeps its buffers (~3.6 MB at 4096 records). At
// 2×GOMAXPROCS, GOMAXPROCS=16 meant 35 batches in flight: peak RSS 436 MB
// against 372 MB at 18 workers, CPU per event 4.40 against 4.21 µs
// (`enricher bench` with GOMAXPROCS=16 on 2 cores). Run and Passthrough both
// take their sizes from here, so the benchmark's baseline cannot drift from
// the service.
func newPipeline(batchSize int, linger time.Duration, workers int) pipeline {
	if batchSize <= 0 {
		batchSize = 4096
	}
	if linger <= 0 {
		linger = 5 * time.Millisecond
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0) + 2
	}
	return pipeline{batchSize: batchSize, linger: linger, workers: workers, grace: 10 * time.Second}
}

// run fetches from r until ctx ends, then finishes the batches in flight
// within the grace period, and returns nil; it returns an error when a fetch
// or a batch fails for good.
func (p pipeline) run(ctx context.Context, r kafkax.Fetcher) error {
	// Batches in flight are finished under a context that outlives ctx by a grace period.
	workCtx, stopWork := retry.WithGrace(ctx, p.grace)
	defer stopWork()
	// inner ends with ctx, or when delivery fails and the batches behind the
	// failed one must be abandoned.
	inner, abandon := context.WithCancel(ctx)
	defer abandon()

	// One batch being fetched, one being delivered and one being committed
	// keep every worker busy.
	inFlight := p.workers + 3
	free := make(chan *batch, inFlight)
	for range inFlight {
		free <- newBatch(p.batchSize)
	}
	todo := make(chan *batch)
	order := make(chan *batch, inFlight) // never full: there are only inFlight batches

	var wg sync.WaitGroup
	var fetchErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(todo)
		for {
			var b *batch
			select {
			case b = <-free:
			case <-inner.Done():
				return
			}
			if err := p.fetch(inner, r, b); err != nil {
				if inner.Err() == nil {
					fetchErr = fmt.Errorf("fetch engagement events: %w", err)
					abandon()
				}
				return
			}
			select {
			case todo <- b:
			case <-inner.Done():
				return
			}
			order <- b
		}
	}()
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				b.done <- p.transform(inner, workCtx, b)
			}
		}()
	}

	// The committer takes every delivered batch there is and commits them
	// in one request, so commits never hold up delivery.
	delivered := make(chan *batch, inFlight)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		var done []*batch
		for b := range delivered {
			done = append(done[:0], b)
		more:
			for {
				select {
				case b, ok := <-delivered:
					if !ok {
						break more
					}
					done = append(done, b)
				default:
					break more
				}
			}
			p.commit(ctx, workCtx, done)
			for _, b := range done {
				if b != nil {
					free <- b
				}
			}
		}
	}()

	var err error
	for {
		var b *batch
		select {
		case b = <-order:
		case <-p.wake:
			if err == nil {
				if err = p.deliver(ctx, workCtx, nil); err != nil {
					abandon()
				} else {
					delivered <- nil
				}
			}
			continue
		}
		if b == nil {
			break // order closed: the fetcher stopped
		}
		berr := <-b.done
		if err != nil {
			continue // abandoned: left uncommitted, so it is read again after a restart
		}
		if berr == nil {
			berr = p.deliver(ctx, workCtx, b)
		}
		if berr != nil {
			err = berr
			abandon()
			continue
		}
		delivered <- b
	}
	close(delivered)
	<-committed
	wg.Wait()
	if fetchErr != nil {
		return fetchErr
	}
	if errors.Is(err, errShutdown) {
		return nil
	}
	return err
}

// fetch fills b.in with the next record, then with whatever else arrives
// within the linger time, up to the batch size.
func (p pipeline) fetch(ctx context.Context, r kafkax.Fetcher, b *batch) (err error) {
	b.in, err = kafkax.FetchBatch(ctx, r, b.in[:0], p.linger)
	b.fetched = time.Now()
	return err
}

// lastOfRuns appends the last record of every run of one partition in the
// batches' records: committing those commits everything in them.
func lastOfRuns(dst []kafka.Message, done []*batch) []kafka.Message {
	for _, b := range done {
		if b != nil {
			dst = lastOfRunsIn(dst, b.in)
		}
	}
	return dst
}

func lastOfRunsIn(dst, in []kafka.Message) []kafka.Message {
	for i := range in {
		if i+1 < len(in) && in[i+1].Partition == in[i].Partition && in[i+1].Topic == in[i].Topic {
			continue
		}
		dst = append(dst, in[i])
	}
	return dst
}
