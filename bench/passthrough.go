package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// PassthroughConfig configures the baseline: the enricher's consumer and
// producer settings, the same batching, and no enrichment.
type PassthroughConfig struct {
	Brokers     []string
	Topics      []string
	Group       string
	OutputTopic string
	BatchSize   int           // 4096, as enricher.Config
	Linger      time.Duration // 5ms, as enricher.Config
}

// Passthrough consumes cfg.Topics in a consumer group and produces every
// record's key and value unchanged to cfg.OutputTopic, committing a batch's
// offsets once its output is acknowledged, until ctx ends. The reader and
// writer are configured as enricher/enricher.go and cmd/enricher/run.go
// configure theirs, so the difference to `enricher run` is the enrichment.
func Passthrough(ctx context.Context, cfg PassthroughConfig) error {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 4096
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 5 * time.Millisecond
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:               cfg.Brokers,
		GroupID:               cfg.Group,
		GroupTopics:           cfg.Topics,
		MinBytes:              1,
		MaxBytes:              16 << 20,
		MaxWait:               250 * time.Millisecond,
		QueueCapacity:         cfg.BatchSize,
		CommitInterval:        0,
		StartOffset:           kafka.FirstOffset,
		WatchPartitionChanges: true,
	})
	defer r.Close()
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    10000,
		BatchBytes:   8 << 20,
		BatchTimeout: 2 * time.Millisecond,
		MaxAttempts:  3,
	}
	defer w.Close()

	batch := make([]kafka.Message, 0, cfg.BatchSize)
	out := make([]kafka.Message, 0, cfg.BatchSize)
	for {
		batch = batch[:0]
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch: %w", err)
		}
		batch = append(batch, m)
		lctx, cancel := context.WithTimeout(ctx, cfg.Linger)
		for len(batch) < cap(batch) {
			m, err := r.FetchMessage(lctx)
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		cancel()
		out = out[:0]
		for i := range batch {
			out = append(out, kafka.Message{Topic: cfg.OutputTopic, Key: batch[i].Key, Value: batch[i].Value})
		}
		if err := w.WriteMessages(ctx, out...); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("produce: %w", err)
		}
		if err := r.CommitMessages(ctx, batch...); err != nil && ctx.Err() == nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
}
