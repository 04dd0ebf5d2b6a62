package enricher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/kafkax"
)

// scanTimeout bounds one tail scan: past it the partitions it serves fall
// back to at-least-once rather than stall the generation.
const scanTimeout = 60 * time.Second

// tailScan is one read of an output or DLQ partition, from the least
// position committed by the input partitions that write there to its end.
type tailScan struct {
	topic     string
	partition int
	from, to  int64 // to: the end offset read before the scan
	parts     []*partState
	// foreign, when set, tells records another writer put there (the
	// content view's DLQ records share the DLQ topic): they are not counted
	// as records without a position.
	foreign func(*kafka.Message) bool
	// results
	read, noHeader int
	found          map[*partState][]int64
	err            error
}

type srcKey struct {
	hash      uint32
	partition int32
}

// run reads the range and collects in s.found every position of s.parts at
// or after their start offset. It returns once the range is read, the scan
// timed out or ctx ended.
func (s *tailScan) run(ctx context.Context, brokers []string, log *zap.Logger) {
	s.found = map[*partState][]int64{}
	byKey := make(map[srcKey]*partState, len(s.parts))
	for _, ps := range s.parts {
		byKey[srcKey{ps.hash, int32(ps.partition)}] = ps
	}
	s.err = readRange(ctx, brokers, s.topic, s.partition, s.from, s.to, log, func(m *kafka.Message) {
		s.read++
		if pos, ok := sourcePosOf(m); !ok {
			if s.foreign == nil || !s.foreign(m) {
				s.noHeader++
			}
		} else if ps := byKey[srcKey{pos.topicHash, pos.partition}]; ps != nil && pos.offset >= ps.start {
			s.found[ps] = append(s.found[ps], pos.offset)
		}
	})
}

// readRange calls fn with every record of topic/partition from offset from
// up to offset to (exclusive), within scanTimeout.
func readRange(ctx context.Context, brokers []string, topic string, partition int, from, to int64, log *zap.Logger, fn func(*kafka.Message)) error {
	if from >= to {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, scanTimeout)
	defer cancel()
	r := kafka.NewReader(kafkax.PartitionReaderConfig(brokers, topic, partition, 0, log))
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return err
	}
	read := 0
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("not read to offset %d within %v (read %d records from %d)", to, scanTimeout, read, from)
			}
			return err
		}
		read++
		fn(&m)
		if m.Offset+1 >= to {
			return nil
		}
	}
}
