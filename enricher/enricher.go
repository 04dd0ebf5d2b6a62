package enricher

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/schemas"
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
	// CaughtUpAt is a time at which everything then in the content topic
	// has been applied since; zero if unknown.
	CaughtUpAt() time.Time
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

// Config configures a Processor.
type Config struct {
	Brokers     []string
	Topics      []string
	Group       string
	OutputTopic string
	DLQTopic    string

	View      View
	Freshness Freshness
	Decoder   *debezium.Decoder
	Encoder   *schemas.Encoder
	Producer  Producer

	Mode     Mode
	JoinWait time.Duration
	// SourceHeaders adds source.topic, source.partition and source.offset
	// headers to every output record. Off by default: they cost more CPU
	// per record, here and in the broker, than encoding the record.
	SourceHeaders bool
	BatchSize     int           // events per batch at most; default 4096
	Linger        time.Duration // how long a batch waits to fill; default 5ms
	// Workers is how many batches are decoded, joined and encoded at once
	// (see newPipeline for the defaults of these three). Output and commits
	// follow fetch order whatever the number.
	Workers    int
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
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Backoff.Max == 0 {
		c.Backoff = retry.Default
	}
	return nil
}

// Processor consumes engagement events and produces enriched records.
type Processor struct {
	cfg Config
	log *zap.Logger
	m   *metrics

	mu      sync.Mutex
	started bool
	// positions is where the group stands in each topic-partition this
	// instance committed to: the next offset, and the end offset the fetch
	// of its last committed record saw.
	positions map[topicPartition]kafkax.PartitionStatus
}

type topicPartition struct {
	topic     string
	partition int
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

// New validates cfg and returns a Processor; Run starts it.
func New(cfg Config) (*Processor, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("enricher config: %w", err)
	}
	return &Processor{cfg: cfg, log: cfg.Logger, m: newMetrics(cfg.Registerer), positions: map[topicPartition]kafkax.PartitionStatus{}}, nil
}

// Stats returns the event counters by outcome shown on /debug/stats; the
// processor's position in its partitions is Positions.
func (e *Processor) Stats() map[string]any { return e.m.snapshot() }

// Positions returns the consumer group's position in every topic-partition
// this instance has committed to since it started, in topic and partition
// order: the next offset to process, the end offset (high watermark) as the
// fetch of the last committed record saw it, and the lag between them, as
// the enricher_consumer_lag gauge has it. Partitions a rebalance moved to
// another instance keep their last values.
func (e *Processor) Positions() []kafkax.PartitionStatus {
	e.mu.Lock()
	out := make([]kafkax.PartitionStatus, 0, len(e.positions))
	for _, p := range e.positions {
		out = append(out, p)
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b kafkax.PartitionStatus) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// Run waits for the content view to be ready, then enriches until ctx ends.
// The batches in flight when ctx ends are finished (their output produced and
// their offsets committed) within a grace period, or left uncommitted.
func (e *Processor) Run(ctx context.Context) error {
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
	p := newPipeline(e.cfg.BatchSize, e.cfg.Linger, e.cfg.Workers)
	rc := kafkax.GroupReaderConfig(e.cfg.Brokers, e.cfg.Group, e.cfg.Topics, p.batchSize, e.log)
	if e.cfg.Reader != nil {
		e.cfg.Reader(&rc)
	}
	r := kafka.NewReader(rc)
	defer r.Close()
	e.log.Info("enricher joining", zap.Strings("topics", e.cfg.Topics), zap.String("group", e.cfg.Group))

	p.transform, p.deliver = e.process, e.deliver
	p.commit = func(ctx, workCtx context.Context, msgs []kafka.Message) { e.commit(ctx, workCtx, r, msgs) }
	return p.run(ctx, r)
}

var errShutdown = errors.New("shutting down")

// process turns a batch of input records into output and DLQ records in
// b.out; deliver produces them. Workers run it on several batches at once.
func (e *Processor) process(ctx, workCtx context.Context, b *batch) error {
	b.start = time.Now()
	e.m.batchAge.Observe(b.start.Sub(b.in[0].Time).Seconds())
	b.events = b.events[:0]
	b.misses = b.misses[:0]
	applied := e.cfg.Freshness.AppliedTsMs()
	caughtUpAt := e.cfg.Freshness.CaughtUpAt()
	for i := range b.in {
		it := item{msg: &b.in[i]}
		it.ev, it.err = e.decode(ctx, workCtx, &b.in[i])
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
			// A miss, or an event newer than every change the view applied
			// and written after the view was last known to be caught up: the
			// view may be behind, so the answer is provisional. An event
			// written before that has every content change written before
			// it in the view already.
			if !it.found || (e.cfg.Mode == ModeAsOf && it.ev.Event.EventTs.UnixMilli() > applied && (it.msg.Time.IsZero() || !it.msg.Time.Before(caughtUpAt))) {
				b.misses = append(b.misses, len(b.events))
			}
		}
		b.events = append(b.events, it)
	}
	if len(b.misses) > 0 {
		e.waitForMisses(ctx, b)
	}

	b.out = b.out[:0]
	b.headers = b.headers[:0]
	b.arena = b.arena[:0]
	for i := range b.events {
		it := &b.events[i]
		switch it.result {
		case "skipped", "dlq":
		default:
			if it.result == "" {
				it.result = "enriched"
				if !it.found {
					it.result = "miss"
				}
			}
			if err := e.appendOutput(b, it); err != nil {
				it.err, it.stage, it.result = err, "enricher.encode", "dlq"
			}
		}
		if it.result == "dlq" {
			e.log.Warn("engagement event to dlq", zap.String("topic", it.msg.Topic), zap.Int("partition", it.msg.Partition),
				zap.Int64("offset", it.msg.Offset), zap.String("stage", it.stage), zap.Error(it.err))
			b.out = append(b.out, dlq.Record(e.cfg.DLQTopic, *it.msg, it.stage, it.err, b.start))
		}
	}
	e.m.batchSize.Observe(float64(len(b.in)))
	e.m.batchTime.Observe(time.Since(b.start).Seconds())
	return nil
}

// deliver produces a processed batch's records and returns once the broker
// acknowledged every one; the caller then commits its offsets.
func (e *Processor) deliver(ctx, workCtx context.Context, b *batch) error {
	if len(b.out) > 0 {
		if err := e.produce(ctx, workCtx, b.out); err != nil {
			if errors.Is(err, errShutdown) {
				e.log.Info("batch left uncommitted at shutdown; it will be processed again", zap.Int("events", len(b.in)))
			}
			return err
		}
	}
	now := time.Now()
	b.counts = b.counts[:0]
	for i := range b.events {
		it := &b.events[i]
		b.counts.add(it.msg.Topic, it.result)
		if it.result != "dlq" && it.result != "skipped" {
			e.m.latency.Observe(now.Sub(it.msg.Time).Seconds())
		}
	}
	for _, c := range b.counts {
		e.m.events.WithLabelValues(c.topic, c.result).Add(float64(c.n))
	}
	return nil
}

func (e *Processor) lookup(ev *debezium.Engagement) (store.Lookup, bool) {
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
func (e *Processor) waitForMisses(ctx context.Context, b *batch) {
	if e.cfg.JoinWait > 0 {
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, e.cfg.JoinWait)
		e.m.joinWaiting.Inc()
		err := e.cfg.Freshness.WaitCaughtUp(wctx)
		e.m.joinWaiting.Dec()
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
	for _, i := range b.misses {
		it := &b.events[i]
		it.look, it.found = e.lookup(&it.ev.Event)
	}
}

// appendOutput encodes an event's output record into the batch's buffers.
func (e *Processor) appendOutput(b *batch, it *item) error {
	ev := &it.ev.Event
	o := schemas.Output{
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
	start := len(b.arena)
	var err error
	if b.arena, err = e.cfg.Encoder.Append(b.arena, &o); err != nil {
		return fmt.Errorf("encode event %d: %w", ev.ID, err)
	}
	value := b.arena[start:len(b.arena):len(b.arena)]
	ks := len(b.arena)
	b.arena = strconv.AppendInt(b.arena, ev.ID, 10)
	key := b.arena[ks:len(b.arena):len(b.arena)]
	if !e.cfg.SourceHeaders {
		b.out = append(b.out, kafka.Message{Topic: e.cfg.OutputTopic, Key: key, Value: value})
		return nil
	}
	ps := len(b.arena)
	b.arena = strconv.AppendInt(b.arena, int64(it.msg.Partition), 10)
	part := b.arena[ps:len(b.arena):len(b.arena)]
	offStart := len(b.arena)
	b.arena = strconv.AppendInt(b.arena, it.msg.Offset, 10)
	off := b.arena[offStart:len(b.arena):len(b.arena)]
	hs := len(b.headers)
	b.headers = append(b.headers,
		kafka.Header{Key: "source.topic", Value: []byte(it.msg.Topic)},
		kafka.Header{Key: "source.partition", Value: part},
		kafka.Header{Key: "source.offset", Value: off})
	b.out = append(b.out, kafka.Message{Topic: e.cfg.OutputTopic, Key: key, Value: value, Headers: b.headers[hs:len(b.headers):len(b.headers)]})
	return nil
}

// produce writes out, retrying what failed until the broker acknowledged
// everything or the service shuts down.
func (e *Processor) produce(ctx, workCtx context.Context, out []kafka.Message) error {
	start := time.Now()
	pending := out
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

// commit stores the offsets of msgs, the last delivered record of each
// partition run. A commit that fails after a rebalance is dropped: the
// partition's new owner processes the records again (duplicates, never a loss).
func (e *Processor) commit(ctx, workCtx context.Context, r kafkax.Committer, msgs []kafka.Message) {
	start := time.Now()
	defer func() { e.m.commitTime.Observe(time.Since(start).Seconds()) }()
	err := kafkax.Commit(ctx, workCtx, r, msgs, e.cfg.Backoff, func(err error) {
		e.m.retries.WithLabelValues("commit").Inc()
		e.log.Warn("commit engagement offsets; retrying", zap.Error(err))
	})
	switch {
	case err == nil:
		e.mu.Lock()
		for i := range msgs {
			m := &msgs[i]
			lag := kafkax.Lag(m)
			e.m.lag.WithLabelValues(m.Topic, strconv.Itoa(m.Partition)).Set(float64(lag))
			e.positions[topicPartition{m.Topic, m.Partition}] = kafkax.PartitionStatus{
				Topic: m.Topic, Partition: m.Partition, Offset: m.Offset + 1, EndOffset: max(m.HighWaterMark, m.Offset+1), Lag: lag}
		}
		e.mu.Unlock()
	case ctx.Err() != nil:
		// Shutting down: the records are read again after the restart.
	default:
		e.log.Error("commit engagement offsets failed; the records will be processed again unless a later commit covers them", zap.Int("partitions", len(msgs)), zap.Error(err))
	}
}

func (e *Processor) decode(ctx, workCtx context.Context, m *kafka.Message) (debezium.EngagementEvent, error) {
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
