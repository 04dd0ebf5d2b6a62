package redissink

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/httpx"
	"github.com/thmanyah/enricher/internal/rungroup"
	"github.com/thmanyah/enricher/sink/internal/wiring"
)

// Config is what the running sink (`enricher sink redis`) is configured
// with: where Redis, Kafka and the Schema Registry are, and where its HTTP
// API listens. Every field but SchemaRegistryURL and ContentAPI is required.
type Config struct {
	RedisURL string // redis:// or rediss://
	Brokers  []string
	Topic    string // of the enriched records
	Group    string // this sink's own consumer group
	DLQTopic string // created when missing; not Topic

	// Window is the sliding window, a positive whole number of seconds.
	Window time.Duration
	// Top is how many members the view keeps and /top's default n; 0 keeps
	// every content id in the window.
	Top int

	// SchemaRegistryURL, when set, lets the sink read Confluent-framed
	// records; empty: single-object records only.
	SchemaRegistryURL string
	// ContentAPI, when set, is the base URL of `enricher run`, which /top
	// asks for titles (HandlerConfig.ContentAPI).
	ContentAPI string
	// HTTPAddr is where /top, /healthz and /metrics are served (host:port;
	// port 0 picks a free one, logged as "http").
	HTTPAddr string
}

// FieldError is the error of Run for a Config value it refuses, the
// listening address included: Field names the Config field.
type FieldError = field.Error

// validate checks every field and returns the options of RedisURL; an error
// is a *FieldError.
func (c *Config) validate() (*redis.Options, error) {
	switch {
	case len(c.Brokers) == 0:
		return nil, field.Refuse("Brokers", "no broker given")
	case c.Topic == "":
		return nil, field.Refuse("Topic", "empty")
	case c.Group == "":
		return nil, field.Refuse("Group", "empty")
	case c.DLQTopic == "":
		return nil, field.Refuse("DLQTopic", "empty")
	case c.DLQTopic == c.Topic:
		return nil, field.Refuse("DLQTopic", "is the input topic")
	case c.Window < time.Second || c.Window%time.Second != 0:
		return nil, field.Refuse("Window", fmt.Sprintf("%v is not a positive whole number of seconds", c.Window))
	case c.Top < 0:
		return nil, field.Refuse("Top", "must not be negative")
	}
	for _, err := range []error{
		field.CheckHostPort("HTTPAddr", c.HTTPAddr),
		field.CheckHTTPURL("SchemaRegistryURL", c.SchemaRegistryURL),
		field.CheckHTTPURL("ContentAPI", c.ContentAPI),
	} {
		if err != nil {
			return nil, err
		}
	}
	opts, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, &FieldError{Field: "RedisURL", Err: err}
	}
	return opts, nil
}

// Run runs the sink and its HTTP API until ctx ends (it then returns nil,
// after the batch in hand) or either fails. It validates cfg first, so a
// refused Config, or an HTTPAddr it cannot listen on, is a *FieldError
// returned before anything starts. It creates the DLQ topic when missing.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	opts, err := cfg.validate()
	if err != nil {
		return err
	}
	dec, err := wiring.NewDecoder("SchemaRegistryURL", cfg.SchemaRegistryURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	reg := httpx.NewRegistry()
	h, err := NewHandler(HandlerConfig{Redis: rdb, Gatherer: reg, DefaultN: cfg.Top,
		ContentAPI: cfg.ContentAPI, Logger: log.Named("http")})
	if err != nil {
		return err
	}
	ln, err := field.Listen("HTTPAddr", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	dlqWriter := wiring.NewDLQWriter(ctx, cfg.Brokers, cfg.DLQTopic, log)
	defer dlqWriter.Close()
	sink, err := New(SinkConfig{
		Brokers: cfg.Brokers, Topic: cfg.Topic, Group: cfg.Group, DLQTopic: cfg.DLQTopic,
		Redis: rdb, Decoder: dec, DLQ: dlqWriter, Window: cfg.Window, Top: cfg.Top,
		Logger: log.Named("sink"), Registerer: reg,
	})
	if err != nil {
		ln.Close()
		return err
	}

	g := rungroup.New(ctx, log)
	g.Serve(httpx.NewServer("", h, log.Named("http")), ln)
	g.Go("redis sink", sink.Run)
	log.Info("redis sink running", zap.String("http", ln.Addr().String()), zap.String("redis", opts.Addr),
		zap.Strings("brokers", cfg.Brokers), zap.String("topic", cfg.Topic), zap.String("group", cfg.Group))
	return g.Run()
}

// GoRedisLogger routes go-redis's own messages (reconnects) to Log at debug
// level: the sink logs every failure it retries itself. go-redis has one
// process-wide logger, so installing it (redis.SetLogger) is the binary's
// call, not Run's.
type GoRedisLogger struct{ Log *zap.Logger }

// Printf logs one go-redis message.
func (l GoRedisLogger) Printf(_ context.Context, format string, v ...any) {
	l.Log.Debug(fmt.Sprintf(format, v...))
}
