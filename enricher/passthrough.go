package enricher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/retry"
)

// PassthroughConfig configures Passthrough; zero sizes take Config's defaults.
type PassthroughConfig struct {
	Brokers     []string
	Topics      []string
	Group       string
	OutputTopic string
	BatchSize   int
	Linger      time.Duration
	Workers     int
	Producer    Producer
}

// Passthrough runs Processor.Run's pipeline (the same batching, workers,
// in-order delivery and commits after acknowledgement, but kafka-go's group
// Reader instead of a ConsumerGroup with partition readers, and no
// exactly-once bookkeeping) with the enrichment replaced by copying each
// record's key and value to cfg.OutputTopic, until
// ctx ends. It is the baseline of `enricher bench`: what moving the bytes
// through Kafka costs with this service's client settings.
func Passthrough(ctx context.Context, cfg PassthroughConfig) error {
	switch {
	case len(cfg.Brokers) == 0 || len(cfg.Topics) == 0 || cfg.Group == "" || cfg.OutputTopic == "":
		return errors.New("passthrough: brokers, topics, group and output topic are required")
	case cfg.Producer == nil:
		return errors.New("passthrough: no producer")
	}
	p := newPipeline(cfg.BatchSize, cfg.Linger, cfg.Workers)
	r := kafka.NewReader(kafkax.GroupReaderConfig(cfg.Brokers, cfg.Group, cfg.Topics, p.batchSize, zap.NewNop()))
	defer r.Close()
	p.transform = func(_, _ context.Context, b *batch) error {
		b.out = b.out[:0]
		for i := range b.in {
			b.out = append(b.out, kafka.Message{Topic: cfg.OutputTopic, Key: b.in[i].Key, Value: b.in[i].Value})
		}
		return nil
	}
	p.deliver = func(_, workCtx context.Context, b *batch) error {
		if err := cfg.Producer.WriteMessages(workCtx, b.out...); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		return nil
	}
	var msgs []kafka.Message
	p.commit = func(ctx, workCtx context.Context, done []*batch) {
		msgs = lastOfRuns(msgs[:0], done)
		_ = kafkax.Commit(ctx, workCtx, r, msgs, retry.Default, nil) // a later commit covers a failed one
	}
	return p.run(ctx, r)
}
