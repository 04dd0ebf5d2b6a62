package enricher

import (
	"context"
	"math"

	"github.com/segmentio/kafka-go"
)

// unwritten returns the records of pending that are not in their partitions.
// A write that failed may have been appended anyway (the broker wrote it and
// its answer was lost); writing it again would be a duplicate. So a failed
// write is checked before it is retried: the target partitions are read from
// where this generation's unacknowledged records can start (the least bound
// of the marks, taken before they were sent) to their end.
//
// It narrows the window without closing it: a request still queued in the
// broker while the partition is read is appended after, and written again.
func (g *generation) unwritten(ctx context.Context, pending []kafka.Message) ([]kafka.Message, error) {
	from := map[topicPartition]int64{}
	for i := range pending {
		from[topicPartition{pending[i].Topic, pending[i].Partition}] = math.MaxInt64
	}
	g.tr.mu.Lock()
	for _, ps := range g.tr.parts {
		for _, m := range ps.marks {
			for _, b := range [...]struct {
				tp  topicPartition
				off int64
			}{{topicPartition{g.tr.outTopic, ps.out}, m.out}, {topicPartition{g.tr.dlqTopic, ps.dlq}, m.dlq}} {
				if f, ok := from[b.tp]; ok {
					from[b.tp] = min(f, b.off)
				}
			}
		}
	}
	g.tr.mu.Unlock()

	req := map[string][]kafka.OffsetRequest{}
	for tp := range from {
		req[tp.topic] = append(req[tp.topic], kafka.LastOffsetOf(tp.partition))
	}
	lr, err := g.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return pending, err
	}
	type pos struct {
		srcKey
		offset int64
	}
	written := map[pos]struct{}{}
	for topic, ps := range lr.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return pending, p.Error
			}
			start := from[topicPartition{topic, p.Partition}]
			if start == math.MaxInt64 {
				continue // no mark: nothing of ours can be there unacknowledged
			}
			err := readRange(ctx, g.e.cfg.Brokers, topic, p.Partition, start, p.LastOffset, g.log, func(m *kafka.Message) {
				if sp, ok := sourcePosOf(m); ok {
					written[pos{srcKey{sp.topicHash, sp.partition}, sp.offset}] = struct{}{}
				}
			})
			if err != nil {
				return pending, err
			}
		}
	}
	keep := pending[:0:0]
	for i := range pending {
		if sp, ok := sourcePosOf(&pending[i]); ok {
			if _, w := written[pos{srcKey{sp.topicHash, sp.partition}, sp.offset}]; w {
				continue
			}
		}
		keep = append(keep, pending[i])
	}
	if n := len(pending) - len(keep); n > 0 {
		g.e.m.retriesResolved.Add(float64(n))
	}
	return keep, nil
}
