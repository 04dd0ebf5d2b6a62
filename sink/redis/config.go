package redissink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/schemas"
)

// Stage is the dlq.stage header of the records this sink dead-letters.
const Stage = "sink.redis"

// DefaultTopKey is the contract's name of the live view.
const DefaultTopKey = "engagement:top:10m"

// Producer writes records and returns once the broker acknowledged them;
// *kafka.Writer is one.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// SinkConfig configures a Sink. Brokers, Topic, Group, DLQTopic, Redis, Decoder
// and DLQ are required; the rest have defaults.
type SinkConfig struct {
	Brokers  []string
	Topic    string // processed_engagements
	Group    string // this sink's own consumer group
	DLQTopic string

	Redis   redis.UniversalClient
	Decoder *schemas.Decoder
	DLQ     Producer

	// Window is the sliding window, in whole seconds; default 10m.
	Window time.Duration
	// Top is how many members TopKey keeps (the highest scores); 0 keeps
	// every content id with an event in the window.
	Top int
	// TopKey is the live view's key; default engagement:top:10m.
	TopKey string
	// Prefix is prepended to the sink's working keys (buckets, seen sets,
	// content types, state); default "engagement:".
	Prefix string

	// MergeInterval is the longest time between two merges (the window
	// slides even when no record arrives); default 1s.
	MergeInterval time.Duration
	// MergeGap is the shortest time between two merges triggered by applied
	// batches, which bounds the merge load under a high event rate; default 100ms.
	MergeGap time.Duration
	// RebuildMargin is how much further back than the window a rebuild
	// starts reading, by Kafka timestamp, to cover producers' clock skew;
	// default 1m.
	RebuildMargin time.Duration

	BatchSize int           // records per batch at most; default 4096
	Linger    time.Duration // how long a batch waits to fill; default 5ms
	// Now is the clock that decides the window (event time); default time.Now.
	// Freshness is always measured with the wall clock.
	Now        func() time.Time
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	Backoff    retry.Backoff
	// Reader lets tests shorten group timings; nil uses production defaults.
	Reader func(*kafka.ReaderConfig)
}

func (c *SinkConfig) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("no brokers")
	case c.Topic == "":
		return errors.New("no topic")
	case c.Group == "":
		return errors.New("no consumer group")
	case c.DLQTopic == "":
		return errors.New("no dlq topic")
	case c.Redis == nil || c.Decoder == nil || c.DLQ == nil:
		return errors.New("redis client, decoder and dlq producer are required")
	case isCluster(c.Redis):
		return errors.New("redis cluster is not supported: the scripts touch keys of many hash slots")
	case c.Window < 0 || c.Window%time.Second != 0:
		return fmt.Errorf("window %v is not a positive whole number of seconds", c.Window)
	case c.Top < 0:
		return fmt.Errorf("top %d is negative", c.Top)
	}
	if c.Window == 0 {
		c.Window = 10 * time.Minute
	}
	if c.TopKey == "" {
		c.TopKey = DefaultTopKey
	}
	if c.Prefix == "" {
		c.Prefix = "engagement:"
	}
	if c.MergeInterval <= 0 {
		c.MergeInterval = time.Second
	}
	if c.MergeGap <= 0 {
		c.MergeGap = 100 * time.Millisecond
	}
	if c.RebuildMargin <= 0 {
		c.RebuildMargin = time.Minute
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 4096
	}
	if c.Linger <= 0 {
		c.Linger = 5 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Backoff.Max == 0 {
		c.Backoff = retry.Default
	}
	return nil
}

func isCluster(c redis.UniversalClient) bool {
	_, ok := c.(*redis.ClusterClient)
	return ok
}

// keys names the sink's Redis keys.
type keys struct {
	top, tmp, state, types string
	second, minute, seen   string // prefixes, followed by a number
}

func newKeys(c *SinkConfig) keys {
	return keys{
		top:    c.TopKey,
		tmp:    c.TopKey + ":tmp",
		state:  c.Prefix + "sink:state",
		types:  c.Prefix + "content_type",
		second: c.Prefix + "bucket:1s:",
		minute: c.Prefix + "bucket:1m:",
		seen:   c.Prefix + "seen:",
	}
}
