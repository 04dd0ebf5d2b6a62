package cdc

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/thmanyah/enricher/internal/kafkax"
	"go.uber.org/zap"
)

// What the enricher and /readyz ask of the view: how fresh it is, whether it
// is ready, whether Kafka answers, and waiting for it to catch up.

// AppliedTsMs is the latest source commit time (ms) among the changes the
// view applied since start: an event newer than it may find an older version
// than the one valid at its time, if the view is behind.
func (c *Consumer) AppliedTsMs() int64 { return c.appliedTs.Load() }

// CaughtUpAt returns a time at which everything then in the content topic
// has been applied since (the latest WaitCaughtUp that returned nil, or
// readiness); zero before either.
func (c *Consumer) CaughtUpAt() time.Time {
	if ns := c.caughtUpAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (c *Consumer) noteCaughtUp(asOf time.Time) {
	ns := asOf.UnixNano()
	for {
		old := c.caughtUpAt.Load()
		if old >= ns || c.caughtUpAt.CompareAndSwap(old, ns) {
			return
		}
	}
}

// Ready reports whether the view has caught up with the topic as of start-up.
func (c *Consumer) Ready() bool { return c.ready.Load() }

// Unreachable returns why the brokers cannot be reached, while the latest
// request to them (partitions and end offsets, read at start, every Refresh
// and by WaitCaughtUp) got no answer; nil once one answers. Its message names
// the brokers and the network error: "kafka unreachable at 127.0.0.1:1: dial
// tcp 127.0.0.1:1: connect: connection refused".
func (c *Consumer) Unreachable() error {
	if ue := c.unreachable.Load(); ue != nil {
		return ue
	}
	return nil
}

// noteKafka records the outcome of a request to the brokers and reports
// whether err says they cannot be reached; that is logged at most once per
// unreachableLogEvery, however often it is retried.
func (c *Consumer) noteKafka(err error) bool {
	ue, ok := kafkax.AsUnreachable(c.cfg.Brokers, err)
	if !ok {
		if c.unreachable.Swap(nil) != nil {
			c.log.Info("kafka reachable again", zap.Strings("brokers", c.cfg.Brokers))
			c.unreachableLogged.Store(0) // the next outage is logged at once
		}
		return false
	}
	c.unreachable.Store(ue)
	now := time.Now().UnixNano()
	last := c.unreachableLogged.Load()
	if (last == 0 || now-last >= int64(unreachableLogEvery)) && c.unreachableLogged.CompareAndSwap(last, now) {
		c.log.Warn("kafka unreachable; retrying (logged at most every "+unreachableLogEvery.String()+")", zap.Error(ue))
	}
	return true
}

// ReadyC is closed once Ready is true.
func (c *Consumer) ReadyC() <-chan struct{} { return c.readyCh }

// Status returns the position of the view in each partition, in partition order.
func (c *Consumer) Status() []PartitionStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]PartitionStatus, 0, len(c.parts))
	for id, p := range c.parts {
		next := c.next[id]
		out = append(out, PartitionStatus{Topic: c.cfg.Topic, Partition: id, Offset: next, EndOffset: p.end, Lag: max(p.end-next, 0)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

func (c *Consumer) setGauges(id int, next, end int64) {
	p := strconv.Itoa(id)
	c.m.offset.WithLabelValues(c.cfg.Topic, p).Set(float64(next))
	c.m.endOffset.WithLabelValues(c.cfg.Topic, p).Set(float64(end))
	c.m.lag.WithLabelValues(c.cfg.Topic, p).Set(float64(max(end-next, 0)))
}

func (c *Consumer) checkReady() {
	if c.ready.Load() {
		return
	}
	c.mu.Lock()
	for id, end := range c.startEnd {
		if c.next[id] < end {
			c.mu.Unlock()
			return
		}
	}
	c.mu.Unlock()
	c.noteCaughtUp(c.startAsOf)
	c.ready.Store(true)
	close(c.readyCh)
	c.m.ready.Set(1)
	c.log.Info("content view ready", zap.Int("rows", c.cfg.Store.Len()))
}

// WaitCaughtUp reads the content topic's end offsets now and waits until the
// view has applied everything up to them, or ctx ends. The enricher calls it
// when a lookup misses, so a miss is emitted only when the content is truly
// unknown, not because the view was behind.
func (c *Consumer) WaitCaughtUp(ctx context.Context) error {
	asOf := time.Now()
	offs, err := c.endOffsets(ctx)
	if ctx.Err() == nil {
		c.noteKafka(err)
	}
	if err != nil {
		if ue, ok := kafkax.AsUnreachable(c.cfg.Brokers, err); ok {
			return ue
		}
		return err
	}
	for {
		c.mu.Lock()
		behind := false
		for id, o := range offs {
			if c.next[id] < o.LastOffset {
				behind = true
				break
			}
		}
		ch := c.applied
		c.mu.Unlock()
		if !behind {
			c.noteCaughtUp(asOf)
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
