package kafkax

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/retry"
)

// NewWriter returns the producer every command writes records with (output,
// DLQ, backfill). It has no topic: each message names its own.
func NewWriter(brokers []string) *kafka.Writer {
	return &kafka.Writer{
		Addr: kafka.TCP(brokers...),
		// Murmur2 on the key, as Java producers do, so records keyed by event
		// id land where any other producer of the same ids would put them.
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		// The writer allocates (and zeroes) room for BatchSize messages for
		// every partition of every write: at 10000 that was 1.5 MB each time,
		// 8% of the enricher's CPU. A batch of ours spreads over the
		// partitions, so 1024 per partition and request is rarely the limit.
		BatchSize: 1024,
		// kafka-go refuses, before sending, any message larger than this,
		// and callers retry a failed write: it must stay above the largest
		// record a broker accepts, so the broker is the one to refuse.
		BatchBytes: 8 << 20,
		// Callers hand over whole batches and wait for the acknowledgement;
		// the writer holds a batch that is not full this long before sending
		// it, so this is pure latency.
		BatchTimeout: 500 * time.Microsecond,
		MaxAttempts:  3,
		// A partition count at most a second old is as good as a fresh one:
		// a topic's partitions change by an operator's hand, and the
		// writer's own metadata (for routing) is refreshed apart from this.
		Transport: &metadataCache{next: kafka.DefaultTransport, ttl: time.Second},
	}
}

// GroupReaderConfig is the consumer group reader configuration of every
// group consumer (the enricher, its benchmark passthrough, the Redis sink).
// queue is how many fetched records may wait for the caller: room for the
// batches in flight, so fetching goes on while they are worked on.
func GroupReaderConfig(brokers []string, group string, topics []string, queue int, log *zap.Logger) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:               brokers,
		GroupID:               group,
		GroupTopics:           topics,
		MinBytes:              1,
		MaxBytes:              16 << 20,
		MaxWait:               250 * time.Millisecond,
		QueueCapacity:         queue,
		CommitInterval:        0, // commits are explicit, after the effects are durable
		StartOffset:           kafka.FirstOffset,
		WatchPartitionChanges: true,
		ErrorLogger:           ErrorLogger(log, "kafka group reader"),
	}
}

// PartitionReaderConfig is the configuration of a reader of one partition,
// outside any consumer group (the content view reads every partition; the
// HTTP sink and the Redis sink's rebuild seek themselves). queue is as in
// GroupReaderConfig; 0 takes kafka-go's default. The caller seeks with
// SetOffset.
func PartitionReaderConfig(brokers []string, topic string, partition, queue int, log *zap.Logger) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:       brokers,
		Topic:         topic,
		Partition:     partition,
		MinBytes:      1,
		MaxBytes:      16 << 20,
		MaxWait:       250 * time.Millisecond,
		QueueCapacity: queue,
		ErrorLogger:   ErrorLogger(log, "kafka partition reader"),
	}
}

// ErrorLogger routes a kafka-go reader's or writer's error messages to log
// as warnings, prefixed with what.
func ErrorLogger(log *zap.Logger, what string) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		log.Warn(what + ": " + fmt.Sprintf(msg, args...))
	})
}

// EnsureTopics creates the topics that are missing, so that a fresh cluster
// works. A topic that exists is left as it is (and not asked for, so a
// platform that manages topics itself and grants no CreateTopics sees no
// request). It returns an error only when the brokers cannot be asked at all,
// an *UnreachableError when no broker answered; a broker that refuses a topic
// (policy, ACLs) is logged, leaving it to auto-creation or to whoever manages
// topics.
func EnsureTopics(ctx context.Context, brokers []string, log *zap.Logger, topics ...kafka.TopicConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Topic
	}
	// Metadata first: it says which topics exist, and a broker that cannot
	// be reached fails it with the network error, where CreateTopics only
	// says "Broker Not Available".
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		if ue, ok := AsUnreachable(brokers, err); ok {
			return ue
		}
		return fmt.Errorf("read topic metadata: %w", err)
	}
	exists := map[string]bool{}
	for _, t := range md.Topics {
		if t.Error == nil {
			exists[t.Name] = true
		}
	}
	missing := topics[:0:0]
	for _, t := range topics {
		if !exists[t.Topic] {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: missing})
	if err != nil {
		if ue, ok := AsUnreachable(brokers, err); ok {
			return ue
		}
		return fmt.Errorf("create topics: %w", err)
	}
	for name, err := range res.Errors {
		switch {
		case err == nil:
			log.Info("topic created", zap.String("topic", name))
		case errors.Is(err, kafka.TopicAlreadyExists):
		default:
			log.Warn("could not create topic; it may need to be created by hand", zap.String("topic", name), zap.Error(err))
		}
	}
	return nil
}

// Topic is a TopicConfig with the broker's default replication; partitions
// -1 takes the broker's default too. policy, when set, is the cleanup.policy.
func Topic(name string, partitions int, policy string) kafka.TopicConfig {
	tc := kafka.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: -1}
	if policy != "" {
		tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: policy}}
	}
	return tc
}

// Fetcher is the part of *kafka.Reader FetchBatch uses.
type Fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
}

// FetchBatch appends to dst the next record, blocking until one arrives or
// ctx ends, then whatever else arrives within linger, up to cap(dst). The
// error is that of the first fetch; a batch is never returned with one.
func FetchBatch(ctx context.Context, r Fetcher, dst []kafka.Message, linger time.Duration) ([]kafka.Message, error) {
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return dst, err
	}
	dst = append(dst, m)
	lctx, cancel := context.WithTimeout(ctx, linger)
	defer cancel()
	for len(dst) < cap(dst) {
		m, err := r.FetchMessage(lctx)
		if err != nil {
			break
		}
		dst = append(dst, m)
	}
	return dst, nil
}

// Committer is the part of *kafka.Reader Commit uses.
type Committer interface {
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

// CommitAttempts bounds Commit's retries: a commit that keeps failing is
// usually one the group no longer accepts (a rebalance took the partitions),
// and a later commit covers it anyway.
const CommitAttempts = 5

// ErrCommitAbandoned is what Commit returns when it gave up.
var ErrCommitAbandoned = errors.New("commit abandoned")

// Commit stores the offsets of msgs, retrying a failure with backoff up to
// CommitAttempts times. The commit itself runs under workCtx, which may
// outlive ctx so that the commit of delivered work still happens at shutdown;
// ctx ending stops the retries. onRetry, when set, hears of every failure
// that will be retried. A commit that is given up is dropped: the records are
// processed again by whoever owns the partitions next (duplicates, never a
// loss); the error returned then wraps ErrCommitAbandoned and the last
// failure.
func Commit(ctx, workCtx context.Context, r Committer, msgs []kafka.Message, b retry.Backoff, onRetry func(error)) error {
	var err error
	for attempt := 0; attempt < CommitAttempts; attempt++ {
		if err = r.CommitMessages(workCtx, msgs...); err == nil {
			return nil
		}
		if attempt+1 == CommitAttempts || ctx.Err() != nil {
			break
		}
		if onRetry != nil {
			onRetry(err)
		}
		if b.Wait(ctx, attempt) != nil {
			break
		}
	}
	return fmt.Errorf("%w: %w", ErrCommitAbandoned, err)
}

// Lag is how many records of m's partition follow m, from the high watermark
// the fetch that returned m saw.
func Lag(m *kafka.Message) int64 { return max(m.HighWaterMark-m.Offset-1, 0) }

// UnreachableError is a request that got no answer because no broker could
// be reached (a dial, DNS or connection failure), as opposed to an error
// Kafka answered with. Its message says so plainly and names the brokers:
// "kafka unreachable at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect:
// connection refused".
type UnreachableError struct {
	Brokers []string
	Err     error // the network error
}

func (e *UnreachableError) Error() string {
	return "kafka unreachable at " + strings.Join(e.Brokers, ",") + ": " + e.Err.Error()
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// AsUnreachable returns err as an *UnreachableError when it is a network
// failure reaching brokers, with the network error alone (the client's own
// prefixes stripped); false for nil and for every answer from Kafka.
func AsUnreachable(brokers []string, err error) (*UnreachableError, bool) {
	if err == nil {
		return nil, false
	}
	if ue, ok := errors.AsType[*UnreachableError](err); ok {
		return ue, true
	}
	if op, ok := errors.AsType[*net.OpError](err); ok {
		return &UnreachableError{Brokers: brokers, Err: op}, true
	}
	if dns, ok := errors.AsType[*net.DNSError](err); ok {
		return &UnreachableError{Brokers: brokers, Err: dns}, true
	}
	return nil, false
}

// PartitionStatus is a consumer's position in one topic-partition, as
// /debug/stats shows it: Offset is the next offset to process (everything
// before it is done), EndOffset the partition's high watermark when last
// seen, and Lag the records between them.
type PartitionStatus struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	EndOffset int64  `json:"end_offset"`
	Lag       int64  `json:"lag"`
}

// EndOffsets returns the end offset (high-water mark) of each of topic's
// partitions, by partition id, from one metadata and one list-offsets call.
func EndOffsets(ctx context.Context, c *kafka.Client, topic string) (map[int]int64, error) {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("metadata of %s: no such topic", topic)
	}
	req := make([]kafka.OffsetRequest, 0, len(md.Topics[0].Partitions))
	for _, p := range md.Topics[0].Partitions {
		req = append(req, kafka.LastOffsetOf(p.ID))
	}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := make(map[int]int64, len(req))
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	return out, nil
}
