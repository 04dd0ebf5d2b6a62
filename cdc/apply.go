package cdc

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/store"
)

// errShutdown aborts a batch at shutdown: nothing of it is stored, so it is
// read again after the restart.
var errShutdown = errors.New("shutting down")

// applyLoop takes what the readers fetched and decoded, as many records as
// are waiting up to BatchSize, and applies them as one batch.
func (c *Consumer) applyLoop(ctx, workCtx context.Context) error {
	batch := make([]fetched, 0, c.cfg.BatchSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case m := <-c.msgs:
			batch = append(batch, m)
		}
	drain:
		for len(batch) < cap(batch) {
			select {
			case m := <-c.msgs:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		err := c.applyBatch(ctx, workCtx, batch)
		clear(batch) // do not pin the records until the next batch fills
		if errors.Is(err, errShutdown) {
			c.log.Info("batch abandoned at shutdown; it will be read again", zap.Int("records", len(batch)))
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (c *Consumer) applyBatch(ctx, workCtx context.Context, recs []fetched) error {
	start := time.Now()
	b := &c.batch
	b.Reset()
	var dead []kafka.Message
	var heartbeats int
	var maxTs int64
	for i := range recs {
		m := &recs[i].m
		if err := recs[i].err; err != nil {
			c.log.Warn("content record to dlq", zap.Int("partition", m.Partition), zap.Int64("offset", m.Offset), zap.Error(err))
			dead = append(dead, dlq.Record(c.cfg.DLQTopic, *m, "cdc.decode", err, time.Now()))
		} else {
			ev := &recs[i].ev
			if add(b, m, ev) {
				heartbeats++
			}
			maxTs = max(maxTs, ev.Source.TsMs)
		}
		b.Advance(store.TopicPartition{Topic: c.cfg.Topic, Partition: int32(m.Partition)}, m.Offset+1)
	}
	// The DLQ write comes first: once the offsets are stored the records are
	// never read again, so the DLQ must already hold them.
	if len(dead) > 0 {
		if err := c.writeDLQ(ctx, workCtx, dead); err != nil {
			return err
		}
	}
	stats, err := c.cfg.Store.Apply(b)
	if err != nil {
		return err
	}
	c.m.records.WithLabelValues("applied").Add(float64(stats.Applied))
	c.m.records.WithLabelValues("stale").Add(float64(stats.Stale))
	c.m.records.WithLabelValues("noop").Add(float64(stats.Noop))
	c.m.records.WithLabelValues("heartbeat").Add(float64(heartbeats))
	c.m.records.WithLabelValues("dlq").Add(float64(len(dead)))
	c.m.batchSize.Observe(float64(len(recs)))

	c.mu.Lock()
	for i := range recs {
		m := &recs[i].m
		c.next[m.Partition] = m.Offset + 1
		if p := c.parts[m.Partition]; p != nil {
			p.end = max(p.end, m.HighWaterMark)
		}
	}
	for id, p := range c.parts {
		c.setGauges(id, c.next[id], p.end)
	}
	close(c.applied)
	c.applied = make(chan struct{})
	c.mu.Unlock()
	if maxTs > c.appliedTs.Load() {
		c.appliedTs.Store(maxTs)
	}
	c.m.applyTime.Observe(time.Since(start).Seconds())
	c.checkReady()
	if f := c.onApply.Load(); f != nil {
		ids := c.appliedIDs[:0]
		for i := range recs {
			if recs[i].err == nil && recs[i].ev.Key != uuid.Nil {
				ids = append(ids, recs[i].ev.Key)
			}
		}
		if len(ids) > 0 {
			(*f)(ids)
		}
		c.appliedIDs = ids[:0]
	}
	return nil
}

// OnApply sets f to be called, after every batch of content changes is in
// the view, with the ids the batch changed; f must not keep the slice. A
// later call replaces f. It is how the enricher releases the events it holds
// for late content at once, without polling.
func (c *Consumer) OnApply(f func(ids []uuid.UUID)) { c.onApply.Store(&f) }

// decode decodes a record, retrying transient failures until they pass or
// ctx ends (errShutdown).
func (c *Consumer) decode(ctx context.Context, m *kafka.Message) (debezium.ContentEvent, error) {
	var ev debezium.ContentEvent
	err := c.cfg.Backoff.Do(ctx, ctx, func(ctx context.Context) (err error) {
		ev, err = c.cfg.Decoder.Content(ctx, m.Key, m.Value)
		return err
	}, debezium.Retryable, func(_ int, err error) {
		c.m.retries.WithLabelValues("schema_registry").Inc()
		c.log.Warn("decode content record; retrying", zap.Int("partition", m.Partition), zap.Int64("offset", m.Offset), zap.Error(err))
	})
	if errors.Is(err, retry.ErrStopped) {
		return ev, errShutdown
	}
	return ev, err
}

func (c *Consumer) writeDLQ(ctx, workCtx context.Context, dead []kafka.Message) error {
	err := c.cfg.Backoff.Do(ctx, workCtx, func(ctx context.Context) error {
		return c.cfg.DLQ.WriteMessages(ctx, dead...)
	}, nil, func(_ int, err error) {
		c.m.retries.WithLabelValues("dlq_write").Inc()
		c.log.Warn("write dlq; retrying", zap.Int("records", len(dead)), zap.Error(err))
	})
	if errors.Is(err, retry.ErrStopped) {
		return errShutdown
	}
	return err
}

// add puts a decoded event into the batch and reports whether it was a heartbeat.
func add(b *store.Batch, m *kafka.Message, ev *debezium.ContentEvent) (heartbeat bool) {
	src := store.Source{
		Topic:     m.Topic,
		Partition: int32(m.Partition),
		Offset:    m.Offset,
		LSN:       ev.Source.LSN,
		TsMs:      ev.Source.TsMs,
	}
	if src.TsMs == 0 {
		// Tombstones and flattened records without __source_ts_ms carry no
		// commit time; the record's own timestamp is the closest we have.
		src.TsMs = m.Time.UnixMilli()
	}
	switch ev.Kind {
	case debezium.KindHeartbeat:
		return true
	case debezium.KindTruncate:
		b.Truncate(src)
	case debezium.KindTombstone:
		b.Put(store.Change{ID: ev.Key, Delete: true, Source: src})
	case debezium.KindChange:
		if ev.Op == debezium.OpDelete {
			b.Put(store.Change{ID: ev.Key, Delete: true, Source: src})
			return false
		}
		b.Put(store.Change{
			ID: ev.Key,
			Row: store.Row{
				Slug:          ev.Row.Slug,
				Title:         ev.Row.Title,
				ContentType:   ev.Row.ContentType,
				LengthSeconds: ev.Row.LengthSeconds,
				PublishMicros: ev.Row.PublishTS.UnixMicro(),
			},
			Keep:   keepColumns(ev.Unavailable),
			Source: src,
		})
	}
	return false
}

func keepColumns(u debezium.Columns) store.Columns {
	var k store.Columns
	if u&debezium.ColSlug != 0 {
		k |= store.ColSlug
	}
	if u&debezium.ColTitle != 0 {
		k |= store.ColTitle
	}
	if u&debezium.ColContentType != 0 {
		k |= store.ColContentType
	}
	return k
}
