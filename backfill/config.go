package backfill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/kafkax"
)

// Table is the source table, the contract's engagement_events.
const Table = "engagement_events"

// Defaults of the zero Config fields.
const (
	DefaultTopic        = kafkax.TopicBackfill
	DefaultBatch        = 5000
	DefaultCheckpoint   = "./backfill.checkpoint"
	DefaultCountTimeout = 10 * time.Second
	// MaxBatch bounds a page: it is held in memory twice (read ahead, in flight).
	MaxBatch = 100_000
)

// minID is "before every id": keyset pagination starts after it.
const minID = math.MinInt64

// Producer writes records and returns once Kafka acknowledged all of them;
// *kafka.Writer is one. A nil Config.Producer means a kafka-go writer on
// Config.Brokers with RequiredAcks all and the Murmur2 balancer.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Config says what to send where. From and To are required; zero values
// of the others take the defaults above.
type Config struct {
	PGURL   string
	Brokers []string
	Topic   string
	// From and To bound event_ts: [From, To).
	From, To time.Time
	// Batch is the number of rows per query (and per Kafka write when Rate
	// does not ask for smaller writes).
	Batch int
	// Rate caps the events sent per second; 0 is unlimited.
	Rate float64
	// Checkpoint is the path of the checkpoint file.
	Checkpoint string
	// Resume continues the checkpoint at Checkpoint (which must be of the
	// same range and topic). Without it an existing checkpoint is an error.
	Resume bool
	// CountTimeout bounds the exact count(*) made up front for the
	// progress total; past it the total is the planner's estimate. Zero
	// means DefaultCountTimeout; negative, the estimate alone.
	CountTimeout time.Duration
	Logger       *zap.Logger
	Progress     Progress // nil: none
	Producer     Producer // nil: a kafka-go writer on Brokers
	// OnCheckpoint, when set, is called after each checkpoint was saved.
	OnCheckpoint func(Checkpoint)
}

// ParseTime parses an RFC 3339 time, or a date (2025-01-31) as midnight UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2025-01-31T00:00:00Z", s)
}

// validate checks cfg and fills in its defaults; kafka says whether
// records will be sent (not for a dry run).
func (c *Config) validate(kafka bool) error {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Checkpoint == "" {
		c.Checkpoint = DefaultCheckpoint
	}
	if c.CountTimeout == 0 {
		c.CountTimeout = DefaultCountTimeout
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	c.From, c.To = c.From.UTC(), c.To.UTC()
	switch {
	case c.PGURL == "":
		return errors.New("no postgres url")
	case c.From.IsZero() || c.To.IsZero():
		return errors.New("the range needs both from and to")
	case !c.From.Before(c.To):
		return fmt.Errorf("from %s is not before to %s", c.From.Format(time.RFC3339Nano), c.To.Format(time.RFC3339Nano))
	case c.Batch < 1 || c.Batch > MaxBatch:
		return fmt.Errorf("batch %d is not between 1 and %d", c.Batch, MaxBatch)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("rate %v is not a number of events per second (0: unlimited)", c.Rate)
	case kafka && c.Producer == nil && len(c.Brokers) == 0:
		return errors.New("no kafka brokers")
	}
	if _, err := pgx.ParseConfig(c.PGURL); err != nil {
		return fmt.Errorf("postgres url: %w", err)
	}
	return nil
}

// chunk is the number of records per Kafka write: a page, or a tenth of a
// second's worth at Rate, so pacing is smooth.
func (c *Config) chunk() int {
	if c.Rate <= 0 {
		return c.Batch
	}
	return max(1, min(c.Batch, int(math.Ceil(c.Rate/10))))
}
