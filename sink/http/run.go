package httpsink

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/httpx"
	"github.com/thmanyah/enricher/internal/rungroup"
	"github.com/thmanyah/enricher/sink/internal/wiring"
)

// Config is what the running sink (`enricher sink http`) is configured
// with. Every field is required except SchemaRegistryURL; numbers and
// durations must be positive, MaxRetries not negative (0: no retries).
type Config struct {
	URL      string // the endpoint batches are POSTed to
	Brokers  []string
	Topic    string // of the enriched records
	Group    string // this sink's own consumer group
	DLQTopic string // created when missing; not Topic

	BatchSize       int           // records per POST at most
	Concurrency     int           // POSTs in flight at most, across partitions
	Timeout         time.Duration // of one POST
	MaxRetries      int           // retries of a failing batch before it goes to the DLQ
	Linger          time.Duration // how long a batch waits to fill
	BreakerFailures int           // consecutive failures that open the circuit breaker
	BreakerCooldown time.Duration // how long the breaker stays open before a probe

	// SchemaRegistryURL, when set, lets the sink read Confluent-framed
	// records; empty: single-object records only.
	SchemaRegistryURL string
	// HTTPAddr is where /metrics and /healthz are served (host:port; port 0
	// picks a free one, logged as "http").
	HTTPAddr string
}

// FieldError is the error of Run for a Config value it refuses, the
// listening address included: Field names the Config field.
type FieldError = field.Error

// validate checks every field; an error is a *FieldError.
func (c *Config) validate() error {
	switch {
	case c.URL == "":
		return field.Refuse("URL", "no endpoint given")
	case len(c.Brokers) == 0:
		return field.Refuse("Brokers", "no broker given")
	case c.Topic == "":
		return field.Refuse("Topic", "empty")
	case c.Group == "":
		return field.Refuse("Group", "empty")
	case c.DLQTopic == "" || c.DLQTopic == c.Topic:
		return field.Refuse("DLQTopic", "empty or the input topic")
	case c.BatchSize <= 0:
		return field.Refuse("BatchSize", "must be positive")
	case c.Concurrency <= 0:
		return field.Refuse("Concurrency", "must be positive")
	case c.Timeout <= 0:
		return field.Refuse("Timeout", "must be positive")
	case c.MaxRetries < 0:
		return field.Refuse("MaxRetries", "must not be negative")
	case c.Linger <= 0:
		return field.Refuse("Linger", "must be positive")
	case c.BreakerFailures <= 0:
		return field.Refuse("BreakerFailures", "must be positive")
	case c.BreakerCooldown <= 0:
		return field.Refuse("BreakerCooldown", "must be positive")
	}
	for _, err := range []error{
		field.CheckHTTPURL("URL", c.URL),
		field.CheckHostPort("HTTPAddr", c.HTTPAddr),
		field.CheckHTTPURL("SchemaRegistryURL", c.SchemaRegistryURL),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Run runs the sink and its /metrics and /healthz server until ctx ends (it
// then returns nil, after the POSTs in flight) or either fails. It validates
// cfg first, so a refused Config, or an HTTPAddr it cannot listen on, is a
// *FieldError returned before anything starts. It creates the DLQ topic
// when missing.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	dec, err := wiring.NewDecoder("SchemaRegistryURL", cfg.SchemaRegistryURL)
	if err != nil {
		return err
	}
	ln, err := field.Listen("HTTPAddr", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	dlqWriter := wiring.NewDLQWriter(ctx, cfg.Brokers, cfg.DLQTopic, log)
	defer func() { _ = dlqWriter.Close() }()
	maxRetries := cfg.MaxRetries
	if maxRetries == 0 {
		maxRetries = -1 // SinkConfig reads 0 as its default
	}
	reg := httpx.NewRegistry()
	sink, err := New(SinkConfig{
		Brokers: cfg.Brokers, Topic: cfg.Topic, Group: cfg.Group, DLQTopic: cfg.DLQTopic, URL: cfg.URL,
		BatchSize: cfg.BatchSize, Concurrency: cfg.Concurrency, Timeout: cfg.Timeout, MaxRetries: maxRetries,
		Linger: cfg.Linger, BreakerFailures: cfg.BreakerFailures, BreakerCooldown: cfg.BreakerCooldown,
		Decoder: dec, DLQ: dlqWriter, Logger: log.Named("sink.http"), Registerer: reg,
	})
	if err != nil {
		_ = ln.Close()
		return err
	}

	g := rungroup.New(ctx, log)
	g.Serve(httpx.NewServer("", NewHandler(reg), log.Named("http")), ln)
	g.Go("http sink", sink.Run)
	log.Info("http sink running", zap.String("http", ln.Addr().String()), zap.String("url", cfg.URL),
		zap.Strings("brokers", cfg.Brokers), zap.String("topic", cfg.Topic), zap.String("group", cfg.Group))
	return g.Run()
}

// NewHandler serves GET /metrics (from g) and GET /healthz; another method
// on either is answered 405 with an Allow header, any other path 404.
func NewHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux // its 405 for a known path names GET and HEAD in Allow
}
