package httpsink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/retry"
)

// Sink delivers processed_engagements records to an HTTP endpoint.
type Sink struct {
	cfg SinkConfig
	log *zap.Logger
	m   *metrics
	br  *breaker
	sem chan struct{} // one token per POST in flight
	kc  *kafka.Client // offset fetches and commits, with metadata

	throttleMu sync.Mutex
	notBefore  time.Time // no POST before this (Retry-After)

	started atomic.Bool
	fail    context.CancelCauseFunc
	crashed atomic.Bool

	delivered, dead atomic.Int64
}

// errCrash is what Run returns after a simulated crash.
var errCrash = errors.New("simulated crash")

// New validates cfg and returns a Sink; Run starts it.
func New(cfg SinkConfig) (*Sink, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("http sink config: %w", err)
	}
	s := &Sink{
		cfg: cfg,
		log: cfg.Logger,
		m:   newMetrics(cfg.Registerer),
		sem: make(chan struct{}, cfg.Concurrency),
		kc:  &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second},
	}
	s.br = newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, s.m.breakerChanged)
	return s, nil
}

// BreakerState returns the circuit breaker's state.
func (s *Sink) BreakerState() BreakerState { return s.br.State() }

// Stats returns the records delivered and dead-lettered since start.
func (s *Sink) Stats() (delivered, dead int64) { return s.delivered.Load(), s.dead.Load() }

// Run consumes the topic in the sink's consumer group and delivers until ctx
// ends; the batches in flight are then finished (within Grace) and
// committed, or left uncommitted to be sent again under the same key.
func (s *Sink) Run(ctx context.Context) error {
	if s.started.Swap(true) {
		return errors.New("http sink: Run called twice")
	}
	gc := kafka.ConsumerGroupConfig{
		ID:                    s.cfg.Group,
		Brokers:               s.cfg.Brokers,
		Topics:                []string{s.cfg.Topic},
		StartOffset:           kafka.FirstOffset,
		WatchPartitionChanges: true,
		// Revoked partitions finish their batch in flight before the group moves on.
		RebalanceTimeout: s.cfg.Grace + 10*time.Second,
		ErrorLogger:      kafkax.ErrorLogger(s.log, "kafka consumer group"),
	}
	if s.cfg.GroupConfig != nil {
		s.cfg.GroupConfig(&gc)
	}
	cg, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return fmt.Errorf("http sink consumer group: %w", err)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.fail = cancel
	s.log.Info("http sink joining", zap.String("topic", s.cfg.Topic), zap.String("group", s.cfg.Group), zap.String("url", s.cfg.URL))
	for {
		gen, err := cg.Next(runCtx)
		if err != nil {
			if runCtx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			s.log.Warn("consumer group; rejoining", zap.Error(err))
			continue // the group backs off by itself
		}
		parts := gen.Assignments[s.cfg.Topic]
		s.log.Info("partitions assigned", zap.Int32("generation", gen.ID), zap.Int("partitions", len(parts)))
		for _, pa := range parts {
			gen.Start(func(gctx context.Context) { s.runPartition(gctx, gen, pa.ID) })
		}
	}
	// Close ends the generation, waits for every partition to finish its
	// batch and commit, then leaves the group.
	_ = cg.Close()
	if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
		return cause
	}
	return nil
}

// partition is one assigned partition's state; only its goroutine touches it.
type partition struct {
	s    *Sink
	gen  *kafka.Generation
	id   int
	in   <-chan kafka.Message
	log  *zap.Logger
	next int64 // offset to commit once the last batch is done; -1 before the first
	// intentEnd is the last offset of the batch announced in the committed
	// metadata, which must be formed again exactly; -1 for none.
	intentEnd int64
	carry     *kafka.Message // a record read past an intent's end
	msgs      []kafka.Message
	body      []byte
	sent      []int
}

func (s *Sink) runPartition(gctx context.Context, gen *kafka.Generation, id int) {
	log := s.log.With(zap.Int("partition", id))
	pos, end, err := s.committed(gctx, id)
	if err != nil {
		return // the generation ended
	}
	rc := kafkax.PartitionReaderConfig(s.cfg.Brokers, s.cfg.Topic, id, s.cfg.BatchSize, log)
	// A POST carries at most BatchSize records: 1 MiB per fetch bounds what
	// each of the (possibly many) partitions holds while it waits.
	rc.MaxBytes = 1 << 20
	if s.cfg.ReaderConfig != nil {
		s.cfg.ReaderConfig(&rc)
	}
	r := kafka.NewReader(rc)
	start := pos
	if start < 0 {
		start = kafka.FirstOffset
	}
	if err := r.SetOffset(start); err != nil {
		log.Error("set partition offset", zap.Int64("offset", start), zap.Error(err))
		_ = r.Close()
		return
	}
	in := make(chan kafka.Message, s.cfg.BatchSize)
	fctx, stopFetch := context.WithCancel(gctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.fetch(fctx, r, in, log) }()

	// The batch in hand may outlive the generation by Grace.
	workCtx, stopWork := retry.WithGrace(gctx, s.cfg.Grace)
	defer func() {
		stopWork()
		stopFetch()
		wg.Wait()
		_ = r.Close()
		s.m.lag.DeleteLabelValues(s.cfg.Topic, strconv.Itoa(id))
	}()
	log.Debug("partition started", zap.Int64("offset", pos), zap.Int64("intent_end", end))
	p := &partition{s: s, gen: gen, id: id, in: in, log: log, next: pos, intentEnd: end}
	p.run(gctx, workCtx)
}

func (s *Sink) fetch(ctx context.Context, r *kafka.Reader, in chan<- kafka.Message, log *zap.Logger) {
	for attempt := 0; ; {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("fetch; retrying", zap.Error(err))
			if s.cfg.Backoff.Wait(ctx, attempt) != nil {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		select {
		case in <- m:
		case <-ctx.Done():
			return
		}
	}
}

// run forms, announces, delivers and commits batches until the generation ends.
func (p *partition) run(gctx, workCtx context.Context) {
	s := p.s
	pending := false // p.next completes a batch whose commit has not been sent
	for {
		b := p.collect(gctx, pending)
		if gctx.Err() != nil {
			break // a batch formed just now is not started
		}
		if b == nil {
			if pending { // idle: commit the last batch on its own
				if p.commit(gctx, workCtx, p.next, "") != nil {
					return
				}
				pending = false
			}
			continue
		}
		// The boundary is made durable before the first POST (this commit
		// also completes the previous batch), so whoever sends these records
		// again sends exactly this batch, under the same key. Decoding
		// overlaps the commit.
		committed := make(chan error, 1)
		if b.fromIntent {
			committed <- nil
		} else {
			go func() { committed <- p.commit(gctx, workCtx, b.first, intentMetadata(b.last)) }()
		}
		pending = false
		ready := s.prepare(gctx, workCtx, b)
		if <-committed != nil {
			return
		}
		ok := ready && s.send(gctx, workCtx, b)
		p.body, p.sent = b.body, b.sent
		if !ok {
			p.log.Info("batch left uncommitted; it will be sent again with the same key", zap.String("key", b.key))
			return
		}
		if s.cfg.crashAfterPost != nil && s.cfg.crashAfterPost(b) {
			s.crashed.Store(true)
			s.fail(errCrash)
			return
		}
		p.next, pending = b.last+1, true
		last := &b.msgs[len(b.msgs)-1]
		s.m.lag.WithLabelValues(s.cfg.Topic, strconv.Itoa(p.id)).Set(float64(max(last.HighWaterMark-p.next, 0)))
	}
	if pending {
		ctx, cancel := context.WithTimeout(workCtx, 5*time.Second)
		_ = p.commit(ctx, ctx, p.next, "")
		cancel()
	}
}

// commit stores offset (and the intent metadata) for the partition: one
// attempt under work, retries of transient failures while stop lasts. An
// error means the commit was not stored (the generation is over, mostly).
func (p *partition) commit(stop, work context.Context, offset int64, meta string) error {
	s := p.s
	if s.crashed.Load() {
		return errCrash
	}
	for attempt := 0; ; attempt++ {
		err := p.commitOnce(work, offset, meta)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, kafka.IllegalGeneration) || errors.Is(err, kafka.UnknownMemberId) ||
			errors.Is(err, kafka.RebalanceInProgress) || errors.Is(err, kafka.FencedInstanceID):
			p.log.Info("commit refused: the partition was revoked", zap.Int64("offset", offset), zap.Error(err))
			return err
		case stop.Err() != nil || work.Err() != nil:
			return fmt.Errorf("commit offset %d: %w", offset, err)
		}
		s.m.retries.WithLabelValues("commit").Inc()
		p.log.Warn("commit; retrying", zap.Int64("offset", offset), zap.Error(err))
		if s.cfg.Backoff.Wait(stop, attempt) != nil {
			return fmt.Errorf("commit offset %d: %w", offset, err)
		}
	}
}

func (p *partition) commitOnce(ctx context.Context, offset int64, meta string) error {
	s := p.s
	res, err := s.kc.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID:      p.gen.GroupID,
		GenerationID: int(p.gen.ID),
		MemberID:     p.gen.MemberID,
		Topics:       map[string][]kafka.OffsetCommit{s.cfg.Topic: {{Partition: p.id, Offset: offset, Metadata: meta}}},
	})
	if err != nil {
		return err
	}
	for _, r := range res.Topics[s.cfg.Topic] {
		if r.Partition == p.id && r.Error != nil {
			return r.Error
		}
	}
	return nil
}

// committed returns the partition's committed offset (-1 for none) and the
// last offset of the batch its metadata announces (-1 for none).
func (s *Sink) committed(ctx context.Context, id int) (offset, intentEnd int64, err error) {
	for attempt := 0; ; attempt++ {
		res, err := s.kc.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: s.cfg.Group, Topics: map[string][]int{s.cfg.Topic: {id}}})
		if err == nil {
			err = res.Error
		}
		if err == nil {
			for _, p := range res.Topics[s.cfg.Topic] {
				if p.Partition != id {
					continue
				}
				if p.Error != nil {
					err = p.Error
					break
				}
				end := parseIntent(p.Metadata)
				if p.CommittedOffset < 0 || end < p.CommittedOffset {
					end = -1
				}
				return p.CommittedOffset, end, nil
			}
			if err == nil {
				return -1, -1, nil
			}
		}
		s.log.Warn("fetch committed offset; retrying", zap.Int("partition", id), zap.Error(err))
		if s.cfg.Backoff.Wait(ctx, attempt) != nil {
			return 0, 0, ctx.Err()
		}
	}
}
