package enricher

import (
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// ReaderConfig is the group reader configuration of Run, shared with the
// benchmark's passthrough so that the two differ only in the enrichment.
func ReaderConfig(brokers []string, group string, topics []string, batchSize int, log *zap.Logger) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:     brokers,
		GroupID:     group,
		GroupTopics: topics,
		MinBytes:    1,
		MaxBytes:    16 << 20,
		MaxWait:     250 * time.Millisecond,
		// Room for the batches in flight, so fetching continues while they
		// are worked on.
		QueueCapacity:         batchSize,
		CommitInterval:        0, // commits are explicit, after the output is acknowledged
		StartOffset:           kafka.FirstOffset,
		WatchPartitionChanges: true,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Warn("kafka group reader: " + fmt.Sprintf(msg, args...))
		}),
	}
}

// NewWriter returns the producer `enricher run` writes output and DLQ records
// with, shared with the benchmark's passthrough.
func NewWriter(brokers []string) *kafka.Writer {
	return &kafka.Writer{
		Addr: kafka.TCP(brokers...),
		// Murmur2 on the key, as Java producers do, so records keyed by event
		// id land where any other producer of the same ids would put them.
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		// The writer allocates (and zeroes) room for BatchSize messages for
		// every partition of every write: at 10000 that was 1.5 MB each time,
		// 8% of the CPU. A batch of ours spreads over the partitions, so 1024
		// per partition and request is rarely the limit.
		BatchSize:  1024,
		BatchBytes: 8 << 20,
		// Callers hand over whole batches and wait for the acknowledgement;
		// the writer holds a batch that is not full this long before sending
		// it, so this is pure latency.
		BatchTimeout: 500 * time.Microsecond,
		MaxAttempts:  3,
	}
}
