package redissink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/kafkax"
)

const (
	stateOK         = "ok"
	stateRebuilding = "rebuilding"
)

// finishScript marks the state ok unless the key vanished during the
// rebuild (Redis lost its data again: the caller rebuilds once more).
var finishScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

var errLostAgain = errors.New("redis lost its data during the rebuild")

// startupCheck reads the state key (retrying while Redis is unreachable) and,
// unless it says "ok", rebuilds before the sink consumes anything: Redis
// never saw a finished rebuild, or lost its data while the sink was stopped.
func (s *Sink) startupCheck(ctx context.Context, a *applier) error {
	for attempt := 0; ; attempt++ {
		v, err := s.cfg.Redis.Get(ctx, s.k.state).Result()
		if err == nil || errors.Is(err, redis.Nil) {
			if v == stateOK {
				return nil
			}
			return s.rebuildRetrying(ctx, a)
		}
		if ctx.Err() != nil {
			return errShutdown
		}
		s.m.retries.WithLabelValues("redis").Inc()
		s.log.Warn("read the sink's state key; retrying", zap.Error(err))
		if s.cfg.Backoff.Wait(ctx, attempt) != nil {
			return errShutdown
		}
	}
}

// rebuildLoop rebuilds whenever an apply or a merge finds the state key
// missing: Redis lost its data.
func (s *Sink) rebuildLoop(ctx context.Context, a *applier) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.rebuild:
		}
		if s.rebuildRetrying(ctx, a) != nil {
			return
		}
	}
}

func (s *Sink) rebuildRetrying(ctx context.Context, a *applier) error {
	for attempt := 0; ; attempt++ {
		err := s.rebuildOnce(ctx, a)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errShutdown
		}
		s.m.retries.WithLabelValues("rebuild").Inc()
		s.log.Warn("rebuild the window from kafka; retrying", zap.Error(err))
		if s.cfg.Backoff.Wait(ctx, attempt) != nil {
			return errShutdown
		}
	}
}

// rebuildOnce reads every partition again from the first record stamped at
// or after Now - Window - RebuildMargin up to the end as of now, and applies
// it. The seen sets make overlap with the live consumer harmless.
func (s *Sink) rebuildOnce(ctx context.Context, a *applier) error {
	select {
	case <-s.rebuild: // this rebuild serves every trigger so far
	default:
	}
	start := time.Now()
	if err := s.cfg.Redis.Set(ctx, s.k.state, stateRebuilding, 0).Err(); err != nil {
		return fmt.Errorf("mark rebuild: %w", err)
	}
	from := s.cfg.Now().Add(-s.cfg.Window - s.cfg.RebuildMargin)
	ranges, err := s.offsetsSince(ctx, from)
	if err != nil {
		return err
	}
	var records int64
	for _, pr := range ranges {
		n, err := s.replay(ctx, a, pr)
		records += n
		if err != nil {
			return fmt.Errorf("replay partition %d: %w", pr.partition, err)
		}
	}
	ok, err := finishScript.Run(ctx, s.cfg.Redis, []string{s.k.state}, stateOK).Int()
	if err != nil {
		return fmt.Errorf("finish rebuild: %w", err)
	}
	if ok == 0 {
		return errLostAgain
	}
	s.m.rebuilds.Inc()
	s.log.Info("rebuilt the window from kafka", zap.Time("from", from), zap.Int64("records", records),
		zap.Duration("took", time.Since(start)))
	s.markDirty()
	return nil
}

type partitionRange struct {
	partition  int
	start, end int64 // [start, end)
}

// offsetsSince returns, per partition the group has committed, the offsets
// from the first record stamped at or after from to the end.
func (s *Sink) offsetsSince(ctx context.Context, from time.Time) ([]partitionRange, error) {
	cl := &kafka.Client{Addr: kafka.TCP(s.cfg.Brokers...), Timeout: 10 * time.Second}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.cfg.Topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", s.cfg.Topic, err)
	}
	var at, last []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Name != s.cfg.Topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			return nil, nil // nothing written yet: nothing to rebuild
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", s.cfg.Topic, t.Error)
		}
		for _, p := range t.Partitions {
			at = append(at, kafka.TimeOffsetOf(p.ID, from))
			last = append(last, kafka.LastOffsetOf(p.ID))
		}
	}
	if len(at) == 0 {
		return nil, nil
	}
	// A partition the group never committed is read from its start by the
	// group itself: nothing of it can have been applied and lost.
	parts := make([]int, len(at))
	for i, r := range at {
		parts[i] = r.Partition
	}
	committed, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: s.cfg.Group, Topics: map[string][]int{s.cfg.Topic: parts}})
	if err == nil {
		err = committed.Error
	}
	if errors.Is(err, kafka.GroupIdNotFound) {
		return nil, nil // the group never committed anything
	}
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", s.cfg.Group, err)
	}
	used := map[int]bool{}
	for _, p := range committed.Topics[s.cfg.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("committed offset of %s/%d: %w", s.cfg.Topic, p.Partition, p.Error)
		}
		used[p.Partition] = p.CommittedOffset >= 0
	}
	// Two requests: kafka-go files one partition's answers by timestamp.
	resAt, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{s.cfg.Topic: at}})
	if err != nil {
		return nil, fmt.Errorf("offsets of %s at %v: %w", s.cfg.Topic, from, err)
	}
	resEnd, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{s.cfg.Topic: last}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", s.cfg.Topic, err)
	}
	ends := map[int]int64{}
	for _, p := range resEnd.Topics[s.cfg.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", s.cfg.Topic, p.Partition, p.Error)
		}
		ends[p.Partition] = p.LastOffset
	}
	var out []partitionRange
	for _, p := range resAt.Topics[s.cfg.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("offset of %s/%d at %v: %w", s.cfg.Topic, p.Partition, from, p.Error)
		}
		for off := range p.Offsets { // empty when no record is that recent
			if used[p.Partition] && off >= 0 && off < ends[p.Partition] {
				out = append(out, partitionRange{partition: p.Partition, start: off, end: ends[p.Partition]})
			}
		}
	}
	return out, nil
}

// replay applies one partition's range, in batches, without dead-lettering
// (poison records were dead-lettered when first consumed) or committing.
func (s *Sink) replay(ctx context.Context, a *applier, pr partitionRange) (int64, error) {
	r := kafka.NewReader(kafkax.PartitionReaderConfig(s.cfg.Brokers, s.cfg.Topic, pr.partition, 0,
		s.log.With(zap.Int("partition", pr.partition), zap.String("reader", "rebuild"))))
	defer r.Close()
	if err := r.SetOffset(pr.start); err != nil {
		return 0, fmt.Errorf("seek to %d: %w", pr.start, err)
	}
	var n int64
	items := make([]item, 0, s.cfg.BatchSize)
	msgs := make([]kafka.Message, 0, s.cfg.BatchSize)
	next := pr.start
	for next < pr.end {
		msgs, items = msgs[:0], items[:0]
		for len(msgs) < cap(msgs) && next < pr.end {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			m, err := r.FetchMessage(fctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return n, ctx.Err()
				}
				if len(msgs) > 0 {
					break // apply what we have, then keep reading
				}
				lag, lerr := r.ReadLag(ctx)
				if lerr == nil && lag <= 0 {
					next = pr.end // the rest of the range is gone or was never readable
					break
				}
				continue
			}
			msgs = append(msgs, m)
			next = m.Offset + 1
		}
		for i := range msgs {
			it := item{msg: &msgs[i]}
			if err := s.decode(ctx, ctx, &it); err != nil {
				return n, err
			}
			items = append(items, it)
		}
		if err := s.applyWithRetry(ctx, ctx, a, items); err != nil {
			return n, err
		}
		for i := range items {
			s.m.rebuildRecords.WithLabelValues(items[i].result).Inc()
		}
		n += int64(len(items))
	}
	return n, nil
}
