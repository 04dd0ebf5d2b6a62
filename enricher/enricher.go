package enricher

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/store"
)

// View is the content lookup the join needs.
type View interface {
	Current(id uuid.UUID) (store.Lookup, bool)
	AsOf(id uuid.UUID, tsMs int64) (store.Lookup, bool)
}

// Freshness tells when the view is ready, how recent it is, and waits for it
// to catch up.
type Freshness interface {
	ReadyC() <-chan struct{}
	AppliedTsMs() int64
	WaitCaughtUp(ctx context.Context) error
}

// Producer writes records and returns once the broker acknowledged them;
// *kafka.Writer is one.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Mode chooses which content version an event is joined with.
type Mode int

const (
	ModeAsOf   Mode = iota // the version valid at the event's time
	ModeLatest             // the current version
)

// Config configures an Enricher.
type Config struct {
	Brokers     []string
	Topics      []string
	Group       string
	OutputTopic string
	DLQTopic    string

	View      View
	Freshness Freshness
	Decoder   *debezium.Decoder
	Encoder   *Encoder
	Producer  Producer

	Mode       Mode
	JoinWait   time.Duration
	BatchSize  int           // events per batch at most; default 4096
	Linger     time.Duration // how long a batch waits to fill; default 5ms
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	Backoff    retry.Backoff
	// Reader lets tests shorten group timings; nil uses production defaults.
	Reader func(*kafka.ReaderConfig)
}

func (c *Config) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("no brokers")
	case len(c.Topics) == 0:
		return errors.New("no engagement topics")
	case c.Group == "":
		return errors.New("no consumer group")
	case c.OutputTopic == "" || c.DLQTopic == "":
		return errors.New("output and dlq topics are required")
	case c.View == nil || c.Freshness == nil || c.Decoder == nil || c.Encoder == nil || c.Producer == nil:
		return errors.New("view, freshness, decoder, encoder and producer are required")
	case c.JoinWait < 0:
		return errors.New("negative join wait")
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 4096
	}
	if c.Linger <= 0 {
		c.Linger = 5 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Backoff.Max == 0 {
		c.Backoff = retry.Default
	}
	return nil
}

// Enricher consumes engagement events and produces enriched records.
type Enricher struct {
	cfg Config
	log *zap.Logger
	m   *metrics

	// Per-batch buffers, reused so the hot path does not allocate per event.
	events  []item
	out     []kafka.Message
	headers []kafka.Header
	arena   []byte
	misses  []int
	counts  outcomes

	mu      sync.Mutex
	started bool
}

// item is one input record on its way through a batch.
type item struct {
	msg    *kafka.Message
	ev     debezium.EngagementEvent
	look   store.Lookup
	found  bool
	result string // metric label once decided
	err    error
	stage  string
}

// New validates cfg and returns an Enricher; Run starts it.
func New(cfg Config) (*Enricher, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("enricher config: %w", err)
	}
	return &Enricher{cfg: cfg, log: cfg.Logger, m: newMetrics(cfg.Registerer)}, nil
}

// Stats returns the counters shown on /debug/stats.
func (e *Enricher) Stats() map[string]any { return e.m.snapshot() }

// Run waits for the content view to be ready, then enriches until ctx ends.
// The batch in hand when ctx ends is finished (its output produced and its
// offsets committed) within the backoff's patience, or left uncommitted.
func (e *Enricher) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errors.New("enricher: Run called twice")
	}
	e.started = true
	e.mu.Unlock()

	select {
	case <-ctx.Done():
		return nil
	case <-e.cfg.Freshness.ReadyC():
	}
	rc := kafka.ReaderConfig{
		Brokers:               e.cfg.Brokers,
		GroupID:               e.cfg.Group,
		GroupTopics:           e.cfg.Topics,
		MinBytes:              1,
		MaxBytes:              16 << 20,
		MaxWait:               250 * time.Millisecond,
		QueueCapacity:         e.cfg.BatchSize,
		CommitInterval:        0, // commits are explicit, after the output is acknowledged
		StartOffset:           kafka.FirstOffset,
		WatchPartitionChanges: true,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			e.log.Warn("kafka group reader: " + fmt.Sprintf(msg, args...))
		}),
	}
	if e.cfg.Reader != nil {
		e.cfg.Reader(&rc)
	}
	r := kafka.NewReader(rc)
	defer r.Close()
	e.log.Info("enricher joining", zap.Strings("topics", e.cfg.Topics), zap.String("group", e.cfg.Group))

	// The batch in hand is finished under a context that outlives ctx by a grace period.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	go func() {
		select {
		case <-workCtx.Done():
		case <-ctx.Done():
			select {
			case <-time.After(10 * time.Second):
				stopWork()
			case <-workCtx.Done():
			}
		}
	}()

	batch := make([]kafka.Message, 0, e.cfg.BatchSize)
	for {
		batch = batch[:0]
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch engagement events: %w", err)
		}
		batch = append(batch, m)
		lctx, cancel := context.WithTimeout(ctx, e.cfg.Linger)
		for len(batch) < cap(batch) {
			m, err := r.FetchMessage(lctx)
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		cancel()
		if err := e.process(ctx, workCtx, batch); err != nil {
			if errors.Is(err, errShutdown) {
				e.log.Info("batch left uncommitted at shutdown; it will be processed again", zap.Int("events", len(batch)))
				return nil
			}
			return err
		}
		e.commit(ctx, workCtx, r, batch)
	}
}

var errShutdown = errors.New("shutting down")

// process turns a batch of input records into output and DLQ records and
// produces them all; it returns once the broker acknowledged every one.
func (e *Enricher) process(ctx, workCtx context.Context, batch []kafka.Message) error {
	start := time.Now()
	e.events = e.events[:0]
	e.misses = e.misses[:0]
	applied := e.cfg.Freshness.AppliedTsMs()
	for i := range batch {
		it := item{msg: &batch[i]}
		it.ev, it.err = e.decode(ctx, workCtx, &batch[i])
		switch {
		case errors.Is(it.err, errShutdown):
			return it.err
		case it.err != nil:
			it.stage, it.result = "enricher.decode", "dlq"
		case it.ev.Kind != debezium.KindChange || it.ev.Op == debezium.OpDelete:
			it.result = "skipped"
		case !it.ev.Event.ContentID.Valid:
			it.result = "no_content_id"
		default:
			it.look, it.found = e.lookup(&it.ev.Event)
			// A miss, or an event newer than every change the view applied:
			// the view may be behind, so the answer is provisional.
			if !it.found || (e.cfg.Mode == ModeAsOf && it.ev.Event.EventTs.UnixMilli() > applied) {
				e.misses = append(e.misses, len(e.events))
			}
		}
		e.events = append(e.events, it)
	}
	if len(e.misses) > 0 {
		e.waitForMisses(ctx)
	}

	e.out = e.out[:0]
	e.headers = e.headers[:0]
	e.arena = e.arena[:0]
	for i := range e.events {
		it := &e.events[i]
		switch it.result {
		case "skipped", "dlq":
		default:
			if it.result == "" {
				it.result = "enriched"
				if !it.found {
					it.result = "miss"
				}
			}
			if err := e.appendOutput(it); err != nil {
				it.err, it.stage, it.result = err, "enricher.encode", "dlq"
			}
		}
		if it.result == "dlq" {
			e.log.Warn("engagement event to dlq", zap.String("topic", it.msg.Topic), zap.Int("partition", it.msg.Partition),
				zap.Int64("offset", it.msg.Offset), zap.String("stage", it.stage), zap.Error(it.err))
			e.out = append(e.out, dlq.Record(e.cfg.DLQTopic, *it.msg, it.stage, it.err, start))
		}
	}
	if len(e.out) > 0 {
		if err := e.produce(ctx, workCtx); err != nil {
			return err
		}
	}
	now := time.Now()
	e.counts = e.counts[:0]
	for i := range e.events {
		it := &e.events[i]
		e.counts.add(it.msg.Topic, it.result)
		if it.result != "dlq" && it.result != "skipped" {
			e.m.latency.Observe(now.Sub(it.msg.Time).Seconds())
		}
	}
	for _, c := range e.counts {
		e.m.events.WithLabelValues(c.topic, c.result).Add(float64(c.n))
	}
	e.m.batchSize.Observe(float64(len(batch)))
	e.m.batchTime.Observe(time.Since(start).Seconds())
	return nil
}

func (e *Enricher) lookup(ev *debezium.Engagement) (store.Lookup, bool) {
	if e.cfg.Mode == ModeLatest {
		return e.cfg.View.Current(ev.ContentID.UUID)
	}
	return e.cfg.View.AsOf(ev.ContentID.UUID, ev.EventTs.UnixMilli())
}

// waitForMisses waits, at most JoinWait, for the view to reach the content
// topic's current end, then looks the provisional events up again: misses,
// and events newer than anything the view applied, which may have found an
// older version than the one valid at their time. One wait serves the whole
// batch; when the view is caught up it costs one ListOffsets round trip.
func (e *Enricher) waitForMisses(ctx context.Context) {
	if e.cfg.JoinWait > 0 {
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, e.cfg.JoinWait)
		e.m.joinWaiting.Set(1)
		err := e.cfg.Freshness.WaitCaughtUp(wctx)
		e.m.joinWaiting.Set(0)
		cancel()
		outcome := "caught_up"
		if err != nil {
			outcome = "timeout"
			if !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				outcome = "error"
				e.log.Warn("wait for the content view", zap.Error(err))
			}
		}
		e.m.joinWaits.WithLabelValues(outcome).Inc()
		e.m.joinWaitTime.Observe(time.Since(start).Seconds())
	}
	for _, i := range e.misses {
		it := &e.events[i]
		it.look, it.found = e.lookup(&it.ev.Event)
	}
}

// appendOutput encodes an event's output record into the batch's buffers.
func (e *Enricher) appendOutput(it *item) error {
	ev := &it.ev.Event
	o := Output{
		EventID:    ev.ID,
		UserID:     ev.UserID,
		EventType:  ev.EventType,
		EventTs:    ev.EventTs,
		DurationMs: ev.DurationMs,
		Device:     ev.Device,
	}
	if ev.ContentID.Valid {
		o.ContentID = sql.NullString{String: ev.ContentID.UUID.String(), Valid: true}
	}
	o.EngagementSeconds = EngagementSeconds(ev.DurationMs)
	if it.found {
		o.ContentType = it.look.ContentType
		o.LengthSeconds = it.look.LengthSeconds
		o.EngagementPct = EngagementPct(ev.DurationMs, it.look.LengthSeconds)
	}
	start := len(e.arena)
	var err error
	if e.arena, err = e.cfg.Encoder.Append(e.arena, &o); err != nil {
		return fmt.Errorf("encode event %d: %w", ev.ID, err)
	}
	value := e.arena[start:len(e.arena):len(e.arena)]
	ks := len(e.arena)
	e.arena = strconv.AppendInt(e.arena, ev.ID, 10)
	key := e.arena[ks:len(e.arena):len(e.arena)]
	ps := len(e.arena)
	e.arena = strconv.AppendInt(e.arena, int64(it.msg.Partition), 10)
	part := e.arena[ps:len(e.arena):len(e.arena)]
	offStart := len(e.arena)
	e.arena = strconv.AppendInt(e.arena, it.msg.Offset, 10)
	off := e.arena[offStart:len(e.arena):len(e.arena)]
	hs := len(e.headers)
	e.headers = append(e.headers,
		kafka.Header{Key: "source.topic", Value: []byte(it.msg.Topic)},
		kafka.Header{Key: "source.partition", Value: part},
		kafka.Header{Key: "source.offset", Value: off})
	e.out = append(e.out, kafka.Message{Topic: e.cfg.OutputTopic, Key: key, Value: value, Headers: e.headers[hs:len(e.headers):len(e.headers)]})
	return nil
}

// produce writes e.out, retrying what failed until the broker acknowledged
// everything or the service shuts down.
func (e *Enricher) produce(ctx, workCtx context.Context) error {
	start := time.Now()
	pending := e.out
	err := e.cfg.Backoff.Do(ctx, workCtx, func(ctx context.Context) error {
		err := e.cfg.Producer.WriteMessages(ctx, pending...)
		// Only what failed is sent again, so a partial failure adds no duplicates.
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(pending) {
			failed := pending[:0:0]
			for i, we := range werrs {
				if we != nil {
					failed = append(failed, pending[i])
				}
			}
			pending = failed
		}
		return err
	}, nil, func(_ int, err error) {
		e.m.retries.WithLabelValues("produce").Inc()
		e.log.Warn("produce enriched records; retrying", zap.Int("records", len(pending)), zap.Error(err))
	})
	if errors.Is(err, retry.ErrStopped) {
		return errShutdown
	}
	e.m.produceTime.Observe(time.Since(start).Seconds())
	return err
}

// commit stores the batch's offsets. A commit that fails after a rebalance is
// dropped: the partition's new owner processes the batch again (duplicates,
// never a loss).
func (e *Enricher) commit(ctx, workCtx context.Context, r *kafka.Reader, batch []kafka.Message) {
	for attempt := 0; attempt < 5; attempt++ {
		err := r.CommitMessages(workCtx, batch...)
		if err == nil {
			for i := range batch {
				m := &batch[i]
				if i+1 < len(batch) && batch[i+1].Partition == m.Partition && batch[i+1].Topic == m.Topic {
					continue // only the last record of a run matters
				}
				e.m.lag.WithLabelValues(m.Topic, strconv.Itoa(m.Partition)).Set(float64(max(m.HighWaterMark-m.Offset-1, 0)))
			}
			return
		}
		e.m.retries.WithLabelValues("commit").Inc()
		e.log.Warn("commit engagement offsets; retrying", zap.Error(err))
		if ctx.Err() != nil || e.cfg.Backoff.Wait(ctx, attempt) != nil {
			return
		}
	}
	e.log.Error("commit engagement offsets failed; the batch will be processed again", zap.Int("events", len(batch)))
}

func (e *Enricher) decode(ctx, workCtx context.Context, m *kafka.Message) (debezium.EngagementEvent, error) {
	var ev debezium.EngagementEvent
	err := e.cfg.Backoff.Do(ctx, workCtx, func(ctx context.Context) (err error) {
		ev, err = e.cfg.Decoder.Engagement(ctx, m.Key, m.Value)
		return err
	}, debezium.Retryable, func(_ int, err error) {
		e.m.retries.WithLabelValues("schema_registry").Inc()
		e.log.Warn("decode engagement event; retrying", zap.Error(err))
	})
	if errors.Is(err, retry.ErrStopped) {
		return ev, errShutdown
	}
	return ev, err
}
