package httpsink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/schemas"
)

// Stage is the dlq.stage header of every record this sink dead-letters.
const Stage = "sink.http"

// Producer writes records and returns once the broker acknowledged them;
// *kafka.Writer is one.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// SinkConfig configures a Sink. Zero values take the defaults named beside them.
type SinkConfig struct {
	Brokers  []string
	Topic    string // processed_engagements
	Group    string // this sink's own consumer group
	DLQTopic string
	URL      string // the endpoint batches are POSTed to

	BatchSize   int           // records per POST at most; default 500
	Concurrency int           // POSTs in flight across partitions; default 4
	Timeout     time.Duration // per request; default 10s
	MaxRetries  int           // retries after the first attempt; default 8; negative means none
	Linger      time.Duration // how long a batch waits to fill; default 50ms
	Backoff     retry.Backoff // between retries; default retry.Default
	// MaxRetryAfter caps an honoured Retry-After; default 5m.
	MaxRetryAfter time.Duration
	// BreakerFailures consecutive failures open the breaker; default 5.
	BreakerFailures int
	// BreakerCooldown is how long it stays open before a probe; default 5s.
	BreakerCooldown time.Duration
	// Grace bounds the in-flight batch's work once the partition is revoked
	// or the sink stops; default Timeout + 5s.
	Grace time.Duration

	Decoder    *schemas.Decoder
	DLQ        Producer
	Client     *http.Client // nil: a pooled client with no overall timeout (Timeout applies per request)
	Header     http.Header  // extra request headers (authorisation, say)
	Logger     *zap.Logger
	Registerer prometheus.Registerer

	// GroupConfig and ReaderConfig let tests shorten kafka-go's timings.
	GroupConfig  func(*kafka.ConsumerGroupConfig)
	ReaderConfig func(*kafka.ReaderConfig)

	// crashAfterPost, set by tests, simulates a crash between the endpoint's
	// acknowledgement and the commit: nothing more is committed and Run fails.
	crashAfterPost func(b *batch) bool
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
	case c.DLQTopic == c.Topic:
		return errors.New("the dlq topic is the input topic")
	case c.Decoder == nil || c.DLQ == nil:
		return errors.New("decoder and dlq producer are required")
	case c.BatchSize < 0 || c.Concurrency < 0 || c.Timeout < 0 || c.Linger < 0:
		return errors.New("batch size, concurrency, timeout and linger must not be negative")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q is not an http(s) URL", c.URL)
	}
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 8
	} else if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.Linger == 0 {
		c.Linger = 50 * time.Millisecond
	}
	if c.Backoff.Max == 0 {
		c.Backoff = retry.Default
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = 5 * time.Minute
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = 5
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = 5 * time.Second
	}
	if c.Grace <= 0 {
		c.Grace = c.Timeout + 5*time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: c.Concurrency * 2,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}, CheckRedirect: keepPOST}
	}
	return nil
}

// keepPOST follows only the redirects that keep the method and body (307,
// 308); a 301, 302 or 303 would turn the POST into a GET, so it is returned
// as an answer (and dead-letters the batch: the URL is wrong).
func keepPOST(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if req.Response != nil && req.Response.StatusCode != http.StatusTemporaryRedirect && req.Response.StatusCode != http.StatusPermanentRedirect {
		return http.ErrUseLastResponse
	}
	return nil
}
