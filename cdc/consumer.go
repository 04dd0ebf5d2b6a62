package cdc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/store"
)

// Producer writes records and returns once the broker acknowledged them;
// *kafka.Writer is one.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Config configures a Consumer. Store, Decoder and DLQ are required.
type Config struct {
	Brokers    []string
	Topic      string
	DLQTopic   string
	Store      *store.Store
	Decoder    *debezium.Decoder
	DLQ        Producer
	Logger     *zap.Logger
	Registerer prometheus.Registerer

	BatchSize     int           // records per Badger transaction at most; default 4096
	Refresh       time.Duration // how often partitions and end offsets are re-read; default 5s
	ShutdownGrace time.Duration // how long the batch in hand may take at shutdown; default 10s
	Backoff       retry.Backoff // for transient failures; default retry.Default
}

func (c *Config) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("no brokers")
	case c.Topic == "":
		return errors.New("no content topic")
	case c.DLQTopic == "":
		return errors.New("no dlq topic")
	case c.Store == nil || c.Decoder == nil || c.DLQ == nil:
		return errors.New("store, decoder and dlq producer are required")
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 4096
	}
	if c.Refresh <= 0 {
		c.Refresh = 5 * time.Second
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.Backoff.Max == 0 {
		c.Backoff = retry.Default
	}
	return nil
}

// Consumer applies the content topic to the store.
type Consumer struct {
	cfg    Config
	log    *zap.Logger
	m      *metrics
	client *kafka.Client
	msgs   chan fetched

	mu        sync.Mutex
	parts     map[int]*partition
	startEnd  map[int]int64 // end offsets when Run started: the readiness target
	startAsOf time.Time     // when startEnd was read
	next      map[int]int64 // next offset per partition, as stored with the view
	applied   chan struct{} // closed and replaced after every commit
	started   bool

	ready     atomic.Bool
	readyCh   chan struct{}
	appliedTs atomic.Int64 // latest source commit time applied, ms
	// caughtUpAt is when (unix ns) the end offsets were read that the view
	// has since reached: everything in the topic then is in the view.
	caughtUpAt atomic.Int64
	batch      store.Batch
	// onApply hears the ids of every batch of changes once they are in the
	// view (the enricher releases the events it holds for them); appliedIDs
	// is the buffer handed to it.
	onApply    atomic.Pointer[func(ids []uuid.UUID)]
	appliedIDs []uuid.UUID

	// unreachable is set while the brokers cannot be reached (the latest
	// metadata or offsets request got no answer), nil once one answers.
	unreachable atomic.Pointer[kafkax.UnreachableError]
	// unreachableLogged is when (unix ns) that was last logged.
	unreachableLogged atomic.Int64
}

// unreachableLogEvery is how often, at most, the consumer logs that Kafka
// cannot be reached while it retries.
const unreachableLogEvery = 30 * time.Second

type partition struct {
	reader *kafka.Reader
	end    int64 // latest known end offset (high watermark); guarded by Consumer.mu
}

// PartitionStatus is the view's position in one partition of the content
// topic: Offset is the next offset the view will read (durably stored).
type PartitionStatus = kafkax.PartitionStatus

// New validates cfg and returns a Consumer; Run starts it.
func New(cfg Config) (*Consumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cdc config: %w", err)
	}
	c := &Consumer{
		cfg:      cfg,
		log:      cfg.Logger.With(zap.String("topic", cfg.Topic)),
		client:   &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second},
		msgs:     make(chan fetched, 2*cfg.BatchSize),
		parts:    map[int]*partition{},
		startEnd: map[int]int64{},
		next:     map[int]int64{},
		applied:  make(chan struct{}),
		readyCh:  make(chan struct{}),
	}
	for tp, off := range cfg.Store.Offsets() {
		if tp.Topic == cfg.Topic {
			c.next[int(tp.Partition)] = off
		}
	}
	c.m = newMetrics(cfg.Registerer,
		func() float64 { return float64(len(c.msgs)) },
		func() float64 { return float64(cfg.Store.Len()) })
	return c, nil
}

// Run reads the topic until ctx is done, then finishes the batch in hand and
// returns nil; it returns an error only when the view cannot go on (a store
// failure, or stored offsets that no longer fit the topic).
func (c *Consumer) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("cdc: Run called twice")
	}
	c.started = true
	c.mu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	// Readers stop with ctx; the applier finishes its batch under its own
	// context, which ends ShutdownGrace after ctx at the latest.
	readCtx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()
	workCtx, stopWork := retry.WithGrace(ctx, c.cfg.ShutdownGrace)
	defer stopWork()

	if err := c.start(ctx, readCtx, &wg); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.refreshLoop(readCtx, &wg) }()

	err := c.applyLoop(ctx, workCtx)
	stopReaders()
	c.closeReaders()
	return err
}

// start reads the topic's partitions and end offsets (retrying until the
// broker answers), fixes the readiness target and starts a reader per partition.
func (c *Consumer) start(ctx, readCtx context.Context, wg *sync.WaitGroup) error {
	for attempt := 0; ; attempt++ {
		asOf := time.Now()
		offs, err := c.listOffsets(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			c.noteKafka(nil)
			c.startAsOf = asOf
			c.mu.Lock()
			for id, o := range offs {
				c.startEnd[id] = o.LastOffset
				if err := c.startPartition(readCtx, wg, id, o); err != nil {
					c.mu.Unlock()
					return err
				}
			}
			c.mu.Unlock()
			c.log.Info("content view starting", zap.Int("partitions", len(offs)), zap.Int("rows", c.cfg.Store.Len()))
			c.checkReady()
			return nil
		}
		c.m.retries.WithLabelValues("metadata").Inc()
		// No broker answering is logged (rate-limited) by noteKafka and
		// shown by /readyz; an answer that is an error is logged each time.
		if !c.noteKafka(err) {
			c.log.Warn("read content topic metadata; retrying", zap.Error(err), zap.Int("attempt", attempt+1))
		}
		if err := c.cfg.Backoff.Wait(ctx, attempt); err != nil {
			return err
		}
	}
}

// startPartition starts the reader of a partition not seen before. c.mu is held.
func (c *Consumer) startPartition(ctx context.Context, wg *sync.WaitGroup, id int, o kafka.PartitionOffsets) error {
	if _, ok := c.parts[id]; ok {
		return nil
	}
	next, stored := c.next[id]
	switch {
	case stored && next > o.LastOffset:
		return fmt.Errorf("content view is ahead of %s/%d (stored offset %d, end offset %d): the topic was recreated; stop the service, delete --data-dir and start again to rebuild the view",
			c.cfg.Topic, id, next, o.LastOffset)
	case stored && next < o.FirstOffset:
		// Retention removed records the view never saw: it cannot be exact.
		c.log.Warn("records the view never read were deleted from the topic; delete --data-dir to rebuild from what is left",
			zap.Int("partition", id), zap.Int64("stored_offset", next), zap.Int64("first_offset", o.FirstOffset))
		next = o.FirstOffset
	case !stored:
		next = o.FirstOffset
	}
	c.next[id] = next
	r := kafka.NewReader(kafkax.PartitionReaderConfig(c.cfg.Brokers, c.cfg.Topic, id, 1024, c.log))
	if err := r.SetOffset(next); err != nil {
		return fmt.Errorf("set offset %s/%d@%d: %w", c.cfg.Topic, id, next, err)
	}
	p := &partition{reader: r, end: o.LastOffset}
	c.parts[id] = p
	c.setGauges(id, next, p.end)
	wg.Add(1)
	go func() { defer wg.Done(); c.fetchLoop(ctx, id, p) }()
	return nil
}

// fetched is a record and what decoding it gave.
type fetched struct {
	m   kafka.Message
	ev  debezium.ContentEvent
	err error // poison: the record goes to the DLQ
}

// fetchLoop reads a partition and decodes its records, in order. Decoding
// here rather than in the applier spreads it over a goroutine per partition
// and overlaps it with the Badger commits: restoring a view is mostly JSON
// decoding, and the single applier did all of it between commits.
func (c *Consumer) fetchLoop(ctx context.Context, id int, p *partition) {
	for attempt := 0; ; {
		m, err := p.reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.m.retries.WithLabelValues("fetch").Inc()
			c.log.Warn("fetch content record; retrying", zap.Int("partition", id), zap.Error(err))
			if c.cfg.Backoff.Wait(ctx, attempt) != nil {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		f := fetched{m: m}
		f.ev, f.err = c.decode(ctx, &f.m)
		if errors.Is(f.err, errShutdown) {
			return // never applied, so read again after the restart
		}
		select {
		case c.msgs <- f:
		case <-ctx.Done():
			return
		}
	}
}

func (c *Consumer) closeReaders() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.parts {
		_ = p.reader.Close()
	}
}

// listOffsets returns the first and end offsets of every partition of the
// topic; a topic that does not exist yet has none.
func (c *Consumer) listOffsets(ctx context.Context) (map[int]kafka.PartitionOffsets, error) {
	md, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.cfg.Topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var reqs []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Name != c.cfg.Topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return map[int]kafka.PartitionOffsets{}, nil
			}
			return nil, fmt.Errorf("metadata %s: %w", c.cfg.Topic, t.Error)
		}
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	out := make(map[int]kafka.PartitionOffsets, len(reqs)/2)
	if len(reqs) == 0 {
		return out, nil
	}
	res, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{c.cfg.Topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets %s: %w", c.cfg.Topic, err)
	}
	for _, po := range res.Topics[c.cfg.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets %s/%d: %w", c.cfg.Topic, po.Partition, po.Error)
		}
		out[po.Partition] = po
	}
	return out, nil
}

// endOffsets lists the end offsets of the partitions the view reads: one
// ListOffsets round trip, as the enricher asks once per batch. Partitions
// added since are found by refreshLoop; until then they cannot hold content
// the view was ever asked about.
func (c *Consumer) endOffsets(ctx context.Context) (map[int]kafka.PartitionOffsets, error) {
	c.mu.Lock()
	reqs := make([]kafka.OffsetRequest, 0, len(c.parts))
	for id := range c.parts {
		reqs = append(reqs, kafka.LastOffsetOf(id))
	}
	c.mu.Unlock()
	if len(reqs) == 0 {
		return c.listOffsets(ctx)
	}
	res, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{c.cfg.Topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets %s: %w", c.cfg.Topic, err)
	}
	out := make(map[int]kafka.PartitionOffsets, len(reqs))
	for _, po := range res.Topics[c.cfg.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets %s/%d: %w", c.cfg.Topic, po.Partition, po.Error)
		}
		out[po.Partition] = po
	}
	return out, nil
}

// refreshLoop picks up new partitions and keeps end offsets (and so lag) current
// while the topic is idle.
func (c *Consumer) refreshLoop(ctx context.Context, wg *sync.WaitGroup) {
	t := time.NewTicker(c.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		offs, err := c.listOffsets(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.m.retries.WithLabelValues("metadata").Inc()
				if !c.noteKafka(err) {
					c.log.Warn("refresh content topic offsets", zap.Error(err))
				}
			}
			continue
		}
		c.noteKafka(nil)
		c.mu.Lock()
		for id, o := range offs {
			if p, ok := c.parts[id]; ok {
				p.end = max(p.end, o.LastOffset)
				c.setGauges(id, c.next[id], p.end)
				continue
			}
			c.log.Info("new content topic partition", zap.Int("partition", id))
			if err := c.startPartition(ctx, wg, id, o); err != nil {
				c.log.Error("start new partition", zap.Int("partition", id), zap.Error(err))
			}
		}
		c.mu.Unlock()
	}
}
