package capture

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

const (
	maxBatch = 5000 // records per Kafka write at most
	// writerBatch caps one produce request per partition. kafka-go allocates
	// this many message slots for every batch, even a batch of one record.
	writerBatch = 500
	chunk       = 1000             // records of one transaction handed over at a time
	linger      = time.Millisecond // how long a small batch waits for more
)

// item is a slice of records in WAL order. end is set on the item that
// closes a transaction: once it is acknowledged, end may be confirmed.
type item struct {
	msgs   []kafka.Message
	end    pglogrepl.LSN
	commit time.Time     // the closing transaction's commit time
	done   chan struct{} // closed once everything before it is acknowledged
}

// sink writes items to Kafka in order, in batches, one write at a time, and
// publishes the end LSN of the last fully acknowledged transaction.
type sink struct {
	c      *Capture
	w      *kafka.Writer
	in     chan item
	failed chan struct{} // closed when a write failed; err says why
	err    error
	acked  atomic.Uint64
	buf    []kafka.Message
}

func newSink(c *Capture, w *kafka.Writer) *sink {
	return &sink{c: c, w: w, in: make(chan item, 256), failed: make(chan struct{})}
}

func (s *sink) setAcked(lsn pglogrepl.LSN) { s.acked.Store(uint64(lsn)) }
func (s *sink) ackedLSN() pglogrepl.LSN    { return pglogrepl.LSN(s.acked.Load()) }

// run writes until in is closed and drained, or a write fails.
func (s *sink) run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []item
	for {
		it, ok := <-s.in
		if !ok {
			return nil
		}
		batch = append(batch[:0], it)
		n := len(it.msgs)
		timer.Reset(linger)
	collect:
		for n < maxBatch {
			select {
			case it, ok = <-s.in:
				if !ok {
					break collect
				}
				batch = append(batch, it)
				n += len(it.msgs)
			case <-timer.C:
				break collect
			}
		}
		if err := s.write(ctx, batch); err != nil {
			s.err = err
			close(s.failed)
			return err
		}
		if !ok {
			return nil
		}
	}
}

func (s *sink) write(ctx context.Context, batch []item) error {
	msgs := s.buf[:0]
	for _, it := range batch {
		msgs = append(msgs, it.msgs...)
	}
	s.buf = msgs
	start := time.Now()
	// Null-key records (truncates) go alone: Kafka rejects them on a compacted
	// topic, and a rejected record fails its whole batch.
	for i := 0; i < len(msgs); {
		j := i
		for j < len(msgs) && msgs[j].Key != nil {
			j++
		}
		if j > i {
			if err := s.w.WriteMessages(ctx, msgs[i:j]...); err != nil {
				return fmt.Errorf("write to kafka: %w", err)
			}
		}
		if j < len(msgs) {
			err := s.w.WriteMessages(ctx, msgs[j])
			var we kafka.WriteErrors
			if errors.As(err, &we) && len(we) == 1 && errors.Is(we[0], kafka.InvalidRecord) {
				s.c.log.Warn("kafka rejected a null-key truncate record (compacted topic?); skipped",
					zap.String("topic", msgs[j].Topic), zap.Error(we[0]))
			} else if err != nil {
				return fmt.Errorf("write to kafka: %w", err)
			}
			j++
		}
		i = j
	}
	now := time.Now()
	if len(msgs) > 0 {
		s.c.m.write.Observe(now.Sub(start).Seconds())
		s.c.acked.Add(int64(len(msgs)))
	}
	clear(msgs) // let the batch's bytes go
	for _, it := range batch {
		if it.end > 0 {
			s.acked.Store(uint64(it.end))
			s.c.m.commitAck.Observe(now.Sub(it.commit).Seconds())
			if s.c.ackHook != nil {
				s.c.ackHook(it.commit)
			}
		}
		if it.done != nil {
			close(it.done)
		}
	}
	return nil
}
