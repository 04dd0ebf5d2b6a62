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
	"sync/atomic"
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
	// OnApply sets the function told the ids of every batch of content
	// changes once they are in the view.
	OnApply(f func(ids []uuid.UUID))
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

	Mode Mode
	// JoinWait is how long an event whose content is missing (or may be
	// newer than the view) is held for it, from when it was read; 0 holds
	// nothing.
	JoinWait time.Duration
	// HoldMaxEvents and HoldMaxBytes bound the events held at once (default
	// 100,000 and 64 MiB); an event that does not fit is emitted at once.
	HoldMaxEvents int
	HoldMaxBytes  int64
	// ExactlyOnce makes a partition's new owner skip the input records whose
	// output its predecessor wrote but did not commit (see package doc).
	// Off, delivery is at-least-once, as before version 14.
	ExactlyOnce bool
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
	// GroupConfig lets tests shorten group timings; nil uses production defaults.
	GroupConfig func(*kafka.ConsumerGroupConfig)
	// Writer lets tests adjust the producer before it is used.
	Writer func(*kafka.Writer)
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
	case c.View == nil || c.Freshness == nil || c.Decoder == nil || c.Encoder == nil:
		return errors.New("view, freshness, decoder and encoder are required")
	case c.JoinWait < 0:
		return errors.New("negative join wait")
	case c.HoldMaxEvents < 0 || c.HoldMaxBytes < 0:
		return errors.New("negative hold bound")
	}
	if c.HoldMaxEvents == 0 {
		c.HoldMaxEvents = 100_000
	}
	if c.HoldMaxBytes == 0 {
		c.HoldMaxBytes = 64 << 20
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

	producer Producer
	front    frontiers
	// onApply is the current generation's hold, told of content changes.
	onApply atomic.Pointer[hold]

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
	ps     *partState
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

// Run waits for the content view to be ready, then enriches, as a member of
// the consumer group, until ctx ends. Each generation's partitions are
// served by runGeneration; the batches in flight when a generation ends are
// finished (their output produced and their offsets committed) within a
// grace period, or left uncommitted.
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
	w := kafkax.NewWriter(e.cfg.Brokers)
	// Every record names its partition (targetPartition), and the writer
	// reports the offsets it got: they bound the tail scans.
	w.Balancer = explicitPartition{}
	w.Completion = e.completed
	if e.cfg.ExactlyOnce {
		// A failed write is retried by produce, after checking what of it
		// the broker appended; kafka-go's own retries would not check.
		w.MaxAttempts = 1
	}
	if e.cfg.Writer != nil {
		e.cfg.Writer(w)
	}
	defer w.Close()
	e.producer = w
	e.cfg.Freshness.OnApply(func(ids []uuid.UUID) {
		if h := e.onApply.Load(); h != nil {
			h.applied(ids)
		}
	})

	gc := kafka.ConsumerGroupConfig{
		ID: e.cfg.Group, Brokers: e.cfg.Brokers, Topics: e.cfg.Topics,
		WatchPartitionChanges: true,
		StartOffset:           kafka.FirstOffset,
		ErrorLogger:           kafkax.ErrorLogger(e.log, "kafka consumer group"),
	}
	if e.cfg.GroupConfig != nil {
		e.cfg.GroupConfig(&gc)
	}
	cg, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	defer cg.Close() // ends the generation, waiting for it to drain, then leaves
	e.log.Info("enricher joining", zap.Strings("topics", e.cfg.Topics), zap.String("group", e.cfg.Group), zap.Bool("exactly_once", e.cfg.ExactlyOnce))
	for attempt := 0; ; {
		gen, err := cg.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			e.log.Warn("join the consumer group; retrying", zap.String("group", e.cfg.Group), zap.Error(err))
			if e.cfg.Backoff.Wait(ctx, attempt) != nil {
				return nil
			}
			attempt++
			continue
		}
		done := make(chan error, 1)
		gen.Start(func(gctx context.Context) { done <- e.runGeneration(gctx, gen) })
		select {
		case err := <-done:
			if err == nil {
				attempt = 0
				continue
			}
			e.log.Warn("generation ended; rejoining", zap.Int32("generation", gen.ID), zap.Error(err))
			if e.cfg.Backoff.Wait(ctx, attempt) != nil {
				return nil
			}
			attempt++
		case <-ctx.Done():
			return nil
		}
	}
}

// completed is the writer's Completion: it raises the frontier of every
// partition a batch was acknowledged in.
func (e *Processor) completed(msgs []kafka.Message, err error) {
	if err != nil || len(msgs) == 0 {
		return
	}
	last := &msgs[len(msgs)-1]
	e.front.raise(topicPartition{last.Topic, last.Partition}, last.Offset+1)
}

var errShutdown = errors.New("shutting down")

// arenaPerRecord is the arena room a batch reserves per record: an output
// record's value (~130 bytes with two UUIDs), key and source position fit; a
// batch that needs more grows its arena once more, and keeps it.
const arenaPerRecord = 192

// process turns a batch of input records into output and DLQ records in
// b.out; deliver produces them. Workers run it on several batches at once.
// An event whose content is missing, or may be newer than the view, is
// marked "hold": deliver hands it to the hold.
func (g *generation) process(ctx, workCtx context.Context, b *batch) error {
	e := g.e
	b.start = time.Now()
	e.m.batchAge.Observe(b.start.Sub(b.in[0].Time).Seconds())
	// Sized for the whole batch at once: grown by appends, the buffers of
	// every batch in flight were copied through a dozen doublings (growslice
	// 8.2% of the CPU with GOMAXPROCS=16, 3.0% sized at once).
	b.events = slices.Grow(b.events[:0], len(b.in))
	b.misses = b.misses[:0]
	applied := e.cfg.Freshness.AppliedTsMs()
	caughtUpAt := e.cfg.Freshness.CaughtUpAt()
	var ps *partState
	for i := range b.in {
		m := &b.in[i]
		if ps == nil || ps.partition != m.Partition || ps.topic != m.Topic {
			ps = g.parts[topicPartition{m.Topic, m.Partition}]
		}
		it := item{msg: m, ps: ps}
		if ps.skipped(m.Offset) {
			it.result = "already_written"
			b.events = append(b.events, it)
			continue
		}
		it.ev, it.err = e.decode(ctx, workCtx, m)
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
			// A provisional answer (a miss, or an event that may be newer
			// than the view) waits in the hold.
			if g.hold != nil && provisional(e.cfg.Mode, it.found, it.ev.Event.EventTs.UnixMilli(), applied, m.Time, caughtUpAt) {
				it.result = "hold"
				if it.found {
					b.misses = append(b.misses, len(b.events))
				}
			}
		}
		b.events = append(b.events, it)
	}
	if len(b.misses) > 0 {
		g.settleProvisional(ctx, b)
	}

	b.out = slices.Grow(b.out[:0], len(b.in))
	b.headers = slices.Grow(b.headers[:0], len(b.in))
	b.arena = slices.Grow(b.arena[:0], len(b.in)*arenaPerRecord)
	for i := range b.events {
		g.emit(b, &b.events[i], b.start)
	}
	e.m.batchSize.Observe(float64(len(b.in)))
	e.m.batchTime.Observe(time.Since(b.start).Seconds())
	return nil
}

// provisionalWait bounds how long a batch waits for the view to catch up
// before its events that are newer than the view go to the hold: a live
// event costs one end-offsets round trip, as before the hold, not a trip
// through it; a view that is really behind costs a batch at most this. At
// 20ms, the end-offsets read on a loaded 2-core machine sometimes took
// longer and live events went through the hold (p99 latency 36-56ms in
// `enricher bench` against 25-40ms at 100ms, which held none).
const provisionalWait = 100 * time.Millisecond

// settleProvisional waits, at most provisionalWait, for the view to reach
// the content topic's end as read now; then the batch's events that are
// newer than the view (b.misses) are looked up again and emitted at once.
// If the view does not get there in time they stay marked for the hold.
func (g *generation) settleProvisional(ctx context.Context, b *batch) {
	e := g.e
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, min(provisionalWait, e.cfg.JoinWait))
	e.m.joinWaiting.Inc()
	err := e.cfg.Freshness.WaitCaughtUp(wctx)
	e.m.joinWaiting.Dec()
	cancel()
	e.m.joinWaitTime.Observe(time.Since(start).Seconds())
	if err != nil {
		e.m.joinWaits.WithLabelValues("timeout").Inc()
		return
	}
	e.m.joinWaits.WithLabelValues("caught_up").Inc()
	for _, i := range b.misses {
		it := &b.events[i]
		it.look, it.found = e.lookup(&it.ev.Event)
		it.result = ""
		if !it.found {
			it.result = "hold" // deleted meanwhile: wait like a miss
		}
	}
}

// emit appends it's output or DLQ record to b, deciding its outcome if
// process did not.
func (g *generation) emit(b *batch, it *item, now time.Time) {
	e := g.e
	switch it.result {
	case "skipped", "dlq", "hold", "already_written":
	default:
		if it.result == "" {
			it.result = "enriched"
			if !it.found {
				it.result = "miss"
			}
		}
		if err := g.appendOutput(b, it); err != nil {
			it.err, it.stage, it.result = err, "enricher.encode", "dlq"
		}
	}
	if it.result == "dlq" {
		e.log.Warn("engagement event to dlq", zap.String("topic", it.msg.Topic), zap.Int("partition", it.msg.Partition),
			zap.Int64("offset", it.msg.Offset), zap.String("stage", it.stage), zap.Error(it.err))
		r := dlq.Record(e.cfg.DLQTopic, *it.msg, it.stage, it.err, now)
		r.Partition = it.ps.dlq
		if e.cfg.ExactlyOnce {
			r.Headers = append(r.Headers, kafka.Header{Key: HeaderSource, Value: appendSourcePos(nil, sourcePos{it.ps.hash, int32(it.ps.partition), it.msg.Offset})})
		}
		b.out = append(b.out, r)
	}
}

// deliver hands a processed batch's held events to the hold, adds the
// events the hold released, produces every record and returns once the
// broker acknowledged them all; the caller then commits. b is nil when only
// released events are to go.
func (g *generation) deliver(ctx, workCtx context.Context, b *batch) error {
	e := g.e
	out := g.rel.out[:0]
	if b != nil {
		for i := range b.events {
			it := &b.events[i]
			if it.result != "hold" {
				continue
			}
			if g.hold.add(it, it.ps, b.fetched) {
				g.tr.hold(it.ps, it.msg.Offset)
				continue
			}
			// The hold is full: the event goes as it is.
			e.m.holdOverflow.Inc()
			it.result = ""
			g.emit(b, it, time.Now())
		}
		out = b.out
	}
	r := &g.rel
	r.events, r.headers, r.arena, r.out = r.events[:0], r.headers[:0], r.arena[:0], r.out[:0]
	if g.hold != nil {
		g.relEvents = g.hold.take(g.relEvents[:0])
		now := time.Now()
		for _, he := range g.relEvents {
			it := item{msg: &he.msg, ps: he.ps, ev: he.ev}
			it.look, it.found = e.lookup(&it.ev.Event)
			switch {
			case it.found && he.provisional:
				it.result = "enriched"
			case it.found:
				it.result = "joined_after_hold"
			default:
				it.result = "miss_after_hold"
			}
			r.events = append(r.events, it)
			g.emit(r, &r.events[len(r.events)-1], now)
		}
		if b != nil {
			b.out = append(b.out, r.out...)
			out = b.out
		} else {
			out = r.out
		}
	}

	// Where each partition's records will land is bounded before they are
	// sent (a commit meanwhile must cover them).
	if b != nil {
		forRuns(b.events, func(ps *partState, last *item) { g.tr.sending(ps, last.msg.Offset) })
	}
	forEachPart(r.events, func(ps *partState, maxOff int64) { g.tr.sending(ps, maxOff) })

	if len(out) > 0 {
		var unwritten func(context.Context, []kafka.Message) ([]kafka.Message, error)
		if e.cfg.ExactlyOnce {
			unwritten = g.unwritten
		}
		if err := e.produce(ctx, workCtx, out, unwritten); err != nil {
			if errors.Is(err, errShutdown) && b != nil {
				e.log.Info("batch left uncommitted at shutdown; its records are skipped or processed again after the restart", zap.Int("events", len(b.in)))
			}
			return err
		}
	}
	now := time.Now()
	if b != nil {
		forRuns(b.events, func(ps *partState, last *item) { g.tr.delivered(ps, last.msg.Offset+1, last.msg.HighWaterMark) })
	}
	for i := range r.events {
		g.tr.unhold(r.events[i].ps, r.events[i].msg.Offset)
	}
	if g.hold != nil {
		g.hold.done(g.relEvents)
		clear(g.relEvents)
	}
	counts := &g.rel.counts
	*counts = (*counts)[:0]
	count := func(evs []item) {
		for i := range evs {
			it := &evs[i]
			switch it.result {
			case "hold":
				continue
			case "dlq", "skipped", "already_written":
			default:
				e.m.latency.Observe(now.Sub(it.msg.Time).Seconds())
			}
			counts.add(it.msg.Topic, it.result)
		}
	}
	if b != nil {
		count(b.events)
	}
	count(r.events)
	for _, c := range *counts {
		e.m.events.WithLabelValues(c.topic, c.result).Add(float64(c.n))
	}
	return nil
}

// forRuns calls f with the last item of every run of one partition.
func forRuns(evs []item, f func(ps *partState, last *item)) {
	for i := range evs {
		if i+1 < len(evs) && evs[i+1].ps == evs[i].ps {
			continue
		}
		f(evs[i].ps, &evs[i])
	}
}

// forEachPart calls f once per partition among evs, with its largest offset.
func forEachPart(evs []item, f func(ps *partState, maxOff int64)) {
	for i := range evs {
		ps, seen := evs[i].ps, false
		for j := 0; j < i && !seen; j++ {
			seen = evs[j].ps == ps
		}
		if seen {
			continue
		}
		maxOff := evs[i].msg.Offset
		for j := i + 1; j < len(evs); j++ {
			if evs[j].ps == ps {
				maxOff = max(maxOff, evs[j].msg.Offset)
			}
		}
		f(ps, maxOff)
	}
}

func (e *Processor) lookup(ev *debezium.Engagement) (store.Lookup, bool) {
	return lookup(e.cfg.View, e.cfg.Mode, ev.ContentID.UUID, ev.EventTs.UnixMilli())
}

// lookup is the join's choice of version; Explain makes the same one.
func lookup(v View, mode Mode, id uuid.UUID, eventMs int64) (store.Lookup, bool) {
	if mode == ModeLatest {
		return v.Current(id)
	}
	return v.AsOf(id, eventMs)
}

// provisional reports whether a join answer may still change, so that an
// event is held (when holding is on) rather than emitted: a miss, or, as of
// the event's time, an event newer than every change the view applied
// (appliedMs) and written (at written, zero if unknown) after the view was
// last known to be caught up (caughtUpAt): the view may be behind, or the
// content not in Kafka yet. An event written before that has every content
// change written before it in the view already.
func provisional(mode Mode, found bool, eventMs, appliedMs int64, written, caughtUpAt time.Time) bool {
	return !found || (mode == ModeAsOf && eventMs > appliedMs && (written.IsZero() || !written.Before(caughtUpAt)))
}

// appendOutput encodes an event's output record into the batch's buffers,
// addressed to its partition's output partition, with its source position.
func (g *generation) appendOutput(b *batch, it *item) error {
	e := g.e
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
	hs := len(b.headers)
	if e.cfg.ExactlyOnce {
		ss := len(b.arena)
		b.arena = appendSourcePos(b.arena, sourcePos{it.ps.hash, int32(it.ps.partition), it.msg.Offset})
		b.headers = append(b.headers, kafka.Header{Key: HeaderSource, Value: b.arena[ss:len(b.arena):len(b.arena)]})
	}
	if e.cfg.SourceHeaders {
		ps := len(b.arena)
		b.arena = strconv.AppendInt(b.arena, int64(it.msg.Partition), 10)
		part := b.arena[ps:len(b.arena):len(b.arena)]
		offStart := len(b.arena)
		b.arena = strconv.AppendInt(b.arena, it.msg.Offset, 10)
		off := b.arena[offStart:len(b.arena):len(b.arena)]
		b.headers = append(b.headers,
			kafka.Header{Key: "source.topic", Value: []byte(it.msg.Topic)},
			kafka.Header{Key: "source.partition", Value: part},
			kafka.Header{Key: "source.offset", Value: off})
	}
	m := kafka.Message{Topic: e.cfg.OutputTopic, Partition: it.ps.out, Key: key, Value: value}
	if len(b.headers) > hs {
		m.Headers = b.headers[hs:len(b.headers):len(b.headers)]
	}
	b.out = append(b.out, m)
	return nil
}

// produce writes out, retrying what failed until the broker acknowledged
// everything or the service shuts down. unwritten, when set, is asked before
// each retry which of the failed records are not in their partitions yet:
// only those are written again.
func (e *Processor) produce(ctx, workCtx context.Context, out []kafka.Message, unwritten func(context.Context, []kafka.Message) ([]kafka.Message, error)) error {
	start := time.Now()
	pending := out
	failed := false
	err := e.cfg.Backoff.Do(ctx, workCtx, func(ctx context.Context) error {
		if failed && unwritten != nil {
			left, err := unwritten(ctx, pending)
			if err != nil {
				return fmt.Errorf("check what a failed write wrote: %w", err)
			}
			if pending = left; len(pending) == 0 {
				return nil
			}
		}
		err := e.producer.WriteMessages(ctx, pending...)
		failed = err != nil
		// Only what failed is sent again, so a partial failure adds no duplicates.
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(pending) {
			again := pending[:0:0]
			for i, we := range werrs {
				if we != nil {
					again = append(again, pending[i])
				}
			}
			pending = again
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
