package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/httpapi"
	"github.com/thmanyah/enricher/registry"
	"github.com/thmanyah/enricher/schemas"
	redissink "github.com/thmanyah/enricher/sink/redis"
)

// SinkRedisConfig is what `enricher sink redis` is configured with.
type SinkRedisConfig struct {
	RedisURL          string
	Brokers           []string
	Topic             string
	Group             string
	Window            time.Duration
	Top               int
	SchemaRegistryURL string
	DLQTopic          string
	HTTPAddr          string
	ContentAPI        string
	LogLevel          string
}

func newSinkRedisCmd() *cobra.Command {
	var cfg SinkRedisConfig
	var brokers string
	cmd := &cobra.Command{
		Use:   "redis",
		Short: "Keep the rolling top content of the last 10 minutes in Redis",
		Long: `redis consumes the enriched records (--topic) in its own consumer group and keeps
the sorted set engagement:top:10m in Redis: member = content id, score = total
engagement_seconds of the events whose event time lies in the last --window,
each event counted once even when Kafka delivers it again. --top members are
kept (0 keeps all). Offsets are committed only after Redis acknowledged a
batch; while Redis is down the sink retries and commits nothing. If Redis
loses its data, the sink rebuilds the window from Kafka.

HTTP on --http-addr: GET /top?n=N (the top N with content id, score and, when
the records carried it, content_type), /healthz, /metrics. Titles are not in
the enriched records: give --content-api (the base URL of 'enricher run', e.g.
http://localhost:8080) and /top adds each title from its /debug/content API.`,
		Args:    cobra.NoArgs,
		PreRunE: applyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Brokers = splitList(brokers)
			log, err := newLogger(cfg.LogLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			return runSinkRedis(cmd.Context(), cfg, log)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.RedisURL, "redis-url", "redis://localhost:6379/0", "Redis URL (redis:// or rediss://)")
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cfg.Topic, "topic", "processed_engagements", "topic of the enriched Avro records")
	fs.StringVar(&cfg.Group, "group", "enricher-sink-redis", "this sink's consumer group")
	fs.DurationVar(&cfg.Window, "window", 10*time.Minute, "sliding window by event time, in whole seconds")
	fs.IntVar(&cfg.Top, "top", 10, "members engagement:top:10m keeps, and /top's default n; 0 keeps every content id in the window")
	fs.StringVar(&cfg.SchemaRegistryURL, "schema-registry-url", "", "Confluent Schema Registry URL, to read Confluent-framed records; empty: single-object records only")
	fs.StringVar(&cfg.DLQTopic, "dlq-topic", "enricher.dlq", "dead-letter topic for records that cannot be decoded")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8081", "address of /top, /healthz and /metrics")
	fs.StringVar(&cfg.ContentAPI, "content-api", "", "base URL of 'enricher run' for titles in /top, e.g. http://localhost:8080; empty: no titles")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	for flag, env := range map[string]string{
		"redis-url": "REDIS_URL", "brokers": "KAFKA_BROKERS", "topic": "OUTPUT_TOPIC", "group": "SINK_REDIS_GROUP",
		"window": "SINK_REDIS_WINDOW", "top": "SINK_REDIS_TOP", "schema-registry-url": "SCHEMA_REGISTRY_URL",
		"dlq-topic": "DLQ_TOPIC", "http-addr": "SINK_REDIS_HTTP_ADDR", "content-api": "SINK_REDIS_CONTENT_API",
		"log-level": "LOG_LEVEL",
	} {
		bindEnv(fs, flag, env)
	}
	return cmd
}

func (c *SinkRedisConfig) validate() (*redis.Options, error) {
	switch {
	case len(c.Brokers) == 0:
		return nil, flagError("brokers", "KAFKA_BROKERS", "no broker given")
	case c.Topic == "":
		return nil, flagError("topic", "OUTPUT_TOPIC", "empty")
	case c.Group == "":
		return nil, flagError("group", "SINK_REDIS_GROUP", "empty")
	case c.DLQTopic == "":
		return nil, flagError("dlq-topic", "DLQ_TOPIC", "empty")
	case c.DLQTopic == c.Topic:
		return nil, flagError("dlq-topic", "DLQ_TOPIC", "is the input topic")
	case c.Window < time.Second || c.Window%time.Second != 0:
		return nil, flagError("window", "SINK_REDIS_WINDOW", fmt.Sprintf("%v is not a positive whole number of seconds", c.Window))
	case c.Top < 0:
		return nil, flagError("top", "SINK_REDIS_TOP", "must not be negative")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return nil, flagError("http-addr", "SINK_REDIS_HTTP_ADDR", fmt.Sprintf("%q is not host:port", c.HTTPAddr))
	}
	for _, u := range []struct{ flag, env, v string }{
		{"schema-registry-url", "SCHEMA_REGISTRY_URL", c.SchemaRegistryURL},
		{"content-api", "SINK_REDIS_CONTENT_API", c.ContentAPI},
	} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, flagError(u.flag, u.env, fmt.Sprintf("%q is not an http(s) URL", u.v))
		}
	}
	opts, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, flagError("redis-url", "REDIS_URL", err.Error())
	}
	return opts, nil
}

// zapRedisLogger routes go-redis's own messages (reconnects) to the log at
// debug level: the sink logs every failure it retries itself.
type zapRedisLogger struct{ log *zap.Logger }

func (l zapRedisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

// runSinkRedis runs the sink and its HTTP server until ctx ends (nil) or the
// sink fails.
func runSinkRedis(ctx context.Context, cfg SinkRedisConfig, log *zap.Logger) error {
	opts, err := cfg.validate()
	if err != nil {
		return err
	}
	redis.SetLogger(zapRedisLogger{log.Named("go-redis")}) // go-redis has only a process-wide logger
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	var src schemas.SchemaSource
	if cfg.SchemaRegistryURL != "" {
		cl, err := registry.New(cfg.SchemaRegistryURL)
		if err != nil {
			return flagError("schema-registry-url", "SCHEMA_REGISTRY_URL", err.Error())
		}
		src = cl
	}
	dec, err := schemas.NewDecoder(src)
	if err != nil {
		return err
	}
	writer := &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...), Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond, MaxAttempts: 3,
	}
	defer writer.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sink, err := redissink.New(redissink.Config{
		Brokers: cfg.Brokers, Topic: cfg.Topic, Group: cfg.Group, DLQTopic: cfg.DLQTopic,
		Redis: rdb, Decoder: dec, DLQ: writer, Window: cfg.Window, Top: cfg.Top,
		Logger: log.Named("sink"), Registerer: reg,
	})
	if err != nil {
		return err
	}
	h, err := redissink.NewHandler(redissink.HandlerConfig{Redis: rdb, Gatherer: reg, DefaultN: cfg.Top,
		ContentAPI: cfg.ContentAPI, Logger: log.Named("http")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return flagError("http-addr", "SINK_REDIS_HTTP_ADDR", fmt.Sprintf("listen on %q: %v (is the port in use?)", cfg.HTTPAddr, err))
	}
	srv := httpapi.NewServer(cfg.HTTPAddr, h, log.Named("http"))
	ensureSinkRedisDLQ(ctx, cfg.Brokers, cfg.DLQTopic, log)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := sink.Run(ctx); err != nil {
			errc <- fmt.Errorf("redis sink: %w", err)
		}
	}()
	log.Info("redis sink running", zap.String("http", ln.Addr().String()), zap.String("redis", opts.Addr),
		zap.Strings("brokers", cfg.Brokers), zap.String("topic", cfg.Topic), zap.String("group", cfg.Group))
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		log.Error("stopping after a fatal error", zap.Error(err))
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutdownCtx)
	wg.Wait()
	return err
}

// ensureSinkRedisDLQ creates the DLQ topic when it is missing, so a fresh cluster
// works; where topics are managed by hand this is a no-op.
func ensureSinkRedisDLQ(ctx context.Context, brokers []string, topic string, log *zap.Logger) {
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: 1, ReplicationFactor: -1},
	}})
	if err != nil {
		log.Warn("create the dlq topic (it may need to be created by hand)", zap.Error(err))
		return
	}
	if e := res.Errors[topic]; e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
		log.Warn("create the dlq topic", zap.String("topic", topic), zap.Error(e))
	}
}
