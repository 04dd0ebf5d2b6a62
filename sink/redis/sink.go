package redissink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/schemas"
)

// Sink keeps the rolling top content in Redis from processed_engagements.
type Sink struct {
	cfg SinkConfig
	k   keys
	log *zap.Logger
	m   *metrics

	dirty   chan struct{} // a batch was applied: merge soon
	rebuild chan struct{} // Redis lost the sink's state: rebuild from Kafka

	mu      sync.Mutex
	pending []int64 // Kafka timestamps (ns) of applied records not yet merged
	spare   []int64
	started bool
}

// New validates cfg and returns a Sink; Run starts it.
func New(cfg SinkConfig) (*Sink, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("redis sink config: %w", err)
	}
	return &Sink{
		cfg: cfg, k: newKeys(&cfg), log: cfg.Logger, m: newMetrics(cfg.Registerer),
		dirty: make(chan struct{}, 1), rebuild: make(chan struct{}, 1),
	}, nil
}

var errShutdown = errors.New("shutting down")

// Run consumes until ctx ends, merging and rebuilding alongside. The batch in
// hand when ctx ends is finished (applied and committed) within a grace
// period, or left uncommitted to be applied again (harmlessly) later.
func (s *Sink) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("redis sink: Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	// The shared group reader: commits are explicit, after Redis acknowledged
	// the batch. Its fetch size and wait are the enricher's; the sink has no
	// reason to differ (a batch's cost is Redis round trips, not fetches).
	rc := kafkax.GroupReaderConfig(s.cfg.Brokers, s.cfg.Group, []string{s.cfg.Topic}, s.cfg.BatchSize, s.log)
	if s.cfg.Reader != nil {
		s.cfg.Reader(&rc)
	}
	if err := s.startupCheck(ctx, newApplier(s.k, s.cfg.Window, s.cfg.Redis)); err != nil {
		return nil // only shutdown ends it
	}
	r := kafka.NewReader(rc)
	defer r.Close()

	bg, stopBg := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.mergeLoop(bg) }()
	go func() { defer wg.Done(); s.rebuildLoop(bg, newApplier(s.k, s.cfg.Window, s.cfg.Redis)) }()
	defer func() { stopBg(); wg.Wait() }()
	s.log.Info("redis sink consuming", zap.String("topic", s.cfg.Topic), zap.String("group", s.cfg.Group),
		zap.Duration("window", s.cfg.Window), zap.String("key", s.k.top))

	workCtx, stopWork := retry.WithGrace(ctx, 10*time.Second)
	defer stopWork()

	a := newApplier(s.k, s.cfg.Window, s.cfg.Redis)
	batch := make([]kafka.Message, 0, s.cfg.BatchSize)
	var items []item
	for {
		var err error
		batch, err = kafkax.FetchBatch(ctx, r, batch[:0], s.cfg.Linger)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch %s: %w", s.cfg.Topic, err)
		}
		if items, err = s.process(ctx, workCtx, a, batch, items[:0]); err != nil {
			if errors.Is(err, errShutdown) {
				s.log.Info("batch left uncommitted at shutdown; it will be applied again (duplicates are ignored)", zap.Int("records", len(batch)))
				return nil
			}
			return err
		}
		s.commit(ctx, workCtx, r, batch)
	}
}

// process decodes, applies and dead-letters one batch, returning once Redis
// and the broker acknowledged everything.
func (s *Sink) process(ctx, workCtx context.Context, a *applier, batch []kafka.Message, items []item) ([]item, error) {
	start := time.Now()
	for i := range batch {
		it := item{msg: &batch[i]}
		if err := s.decode(ctx, workCtx, &it); err != nil {
			return items, err
		}
		items = append(items, it)
	}
	if err := s.applyWithRetry(ctx, workCtx, a, items); err != nil {
		return items, err
	}
	var dead []kafka.Message
	for i := range items {
		if it := &items[i]; it.result == outDLQ {
			s.log.Warn("record to dlq", zap.Int("partition", it.msg.Partition), zap.Int64("offset", it.msg.Offset), zap.Error(it.err))
			dead = append(dead, dlq.Record(s.cfg.DLQTopic, *it.msg, Stage, it.err, start))
		}
	}
	if len(dead) > 0 {
		if err := s.produceDLQ(ctx, workCtx, dead); err != nil {
			return items, err
		}
	}
	counts := map[string]int{}
	wall := windowAt(s.cfg.Now(), s.cfg.Window)
	s.mu.Lock()
	for i := range items {
		it := &items[i]
		counts[it.result]++
		// Records ahead of the window become visible later, not at the next merge.
		if it.result == outApplied && seconds(it.out.EventTs) <= wall.hi && len(s.pending) < 1<<22 {
			s.pending = append(s.pending, it.msg.Time.UnixNano())
		}
	}
	s.mu.Unlock()
	for o, n := range counts {
		s.m.events.WithLabelValues(o).Add(float64(n))
	}
	if counts[outApplied] > 0 {
		s.markDirty()
	}
	s.m.batchTime.Observe(time.Since(start).Seconds())
	return items, nil
}

// decode fills it.out, or decides it.result: poison records go to the DLQ;
// a registry that cannot answer is retried until ctx ends.
func (s *Sink) decode(ctx, workCtx context.Context, it *item) error {
	for attempt := 0; ; attempt++ {
		out, err := s.cfg.Decoder.Decode(workCtx, it.msg.Value)
		if err == nil {
			it.out = out
			it.result, it.err = checkDecoded(&it.out)
			return nil
		}
		if schemas.Poison(err) {
			it.result, it.err = outDLQ, err
			return nil
		}
		if ctx.Err() != nil {
			return errShutdown
		}
		s.m.retries.WithLabelValues("schema_registry").Inc()
		s.log.Warn("decode record; retrying", zap.Error(err))
		if s.cfg.Backoff.Wait(ctx, attempt) != nil {
			return errShutdown
		}
	}
}

// applyWithRetry applies items until Redis acknowledged them all; it gives up
// only when ctx ends.
func (s *Sink) applyWithRetry(ctx, workCtx context.Context, a *applier, items []item) error {
	for attempt := 0; ; attempt++ {
		lost, err := a.apply(workCtx, items, s.cfg.Now())
		if lost {
			s.triggerRebuild()
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errShutdown
		}
		s.m.retries.WithLabelValues("redis").Inc()
		s.log.Warn("apply batch to redis; retrying", zap.Int("attempt", attempt), zap.Error(err))
		if s.cfg.Backoff.Wait(ctx, attempt) != nil {
			return errShutdown
		}
	}
}

func (s *Sink) produceDLQ(ctx, workCtx context.Context, dead []kafka.Message) error {
	err := s.cfg.Backoff.Do(ctx, workCtx, func(ctx context.Context) error {
		return s.cfg.DLQ.WriteMessages(ctx, dead...)
	}, nil, func(_ int, err error) {
		s.m.retries.WithLabelValues("dlq").Inc()
		s.log.Warn("produce dlq records; retrying", zap.Int("records", len(dead)), zap.Error(err))
	})
	if errors.Is(err, retry.ErrStopped) {
		return errShutdown
	}
	return err
}

// commit stores the batch's offsets. A commit that fails after a rebalance is
// dropped: the partition's new owner applies the batch again, and the seen
// sets make that harmless.
func (s *Sink) commit(ctx, workCtx context.Context, r kafkax.Committer, batch []kafka.Message) {
	err := kafkax.Commit(ctx, workCtx, r, batch, s.cfg.Backoff, func(err error) {
		s.m.retries.WithLabelValues("commit").Inc()
		s.log.Warn("commit offsets; retrying", zap.Error(err))
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("commit offsets failed; the batch will be applied again (duplicates are ignored)", zap.Int("records", len(batch)), zap.Error(err))
		}
		return
	}
	for i := range batch {
		m := &batch[i]
		if i+1 < len(batch) && batch[i+1].Partition == m.Partition {
			continue // only the last record of a run matters
		}
		s.m.lag.WithLabelValues(strconv.Itoa(m.Partition)).Set(float64(kafkax.Lag(m)))
	}
}

func (s *Sink) markDirty() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

func (s *Sink) triggerRebuild() {
	select {
	case s.rebuild <- struct{}{}:
	default:
	}
}
