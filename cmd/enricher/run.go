package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/thmanyah/enricher/cdc"
	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/enricher"
	"github.com/thmanyah/enricher/httpapi"
	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/internal/httpx"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/internal/rungroup"
	"github.com/thmanyah/enricher/registry"
	"github.com/thmanyah/enricher/schemas"
	"github.com/thmanyah/enricher/store"
)

// RunConfig is what `enricher run` is configured with; only this package
// knows it comes from flags and environment variables.
type RunConfig struct {
	Brokers           []string
	ContentTopic      string
	EventsTopics      []string
	OutputTopic       string
	DLQTopic          string
	Group             string
	DataDir           string
	HTTPAddr          string
	SchemaRegistryURL string
	JoinWait          time.Duration
	JoinMode          string
	HistoryRetention  time.Duration
	Workers           int // 0: GOMAXPROCS+2
	SourceHeaders     bool
	ExactlyOnce       bool
	HoldMaxEvents     int
	HoldMaxBytes      int64
	LogLevel          string
	// ConsoleRedisURL is where the console's top content is read; empty: none.
	ConsoleRedisURL string

	// PruneInterval is how often superseded versions are pruned; 0 means 10m.
	PruneInterval time.Duration
	// groupHook lets tests shorten the consumer group's timings.
	groupHook func(*kafka.ConsumerGroupConfig)
}

func (c *RunConfig) validate() error {
	if len(c.Brokers) == 0 {
		return cli.FlagError("brokers", "KAFKA_BROKERS", "no broker given")
	}
	if err := cli.CheckBrokers(c.Brokers); err != nil {
		return err
	}
	switch {
	case c.ContentTopic == "":
		return cli.FlagError("content-topic", "CONTENT_TOPIC", "empty")
	case len(c.EventsTopics) == 0:
		return cli.FlagError("events-topics", "EVENTS_TOPICS", "no topic given")
	case c.OutputTopic == "":
		return cli.FlagError("output-topic", "OUTPUT_TOPIC", "empty")
	case c.DLQTopic == "":
		return cli.FlagError("dlq-topic", "DLQ_TOPIC", "empty")
	case c.Group == "":
		return cli.FlagError("group", "CONSUMER_GROUP", "empty")
	case c.DataDir == "":
		return cli.FlagError("data-dir", "DATA_DIR", "empty")
	case c.JoinWait < 0:
		return cli.FlagError("join-wait", "JOIN_WAIT", "must not be negative")
	case c.JoinMode != "asof" && c.JoinMode != "latest":
		return cli.FlagError("join-mode", "JOIN_MODE", fmt.Sprintf("%q is neither asof nor latest", c.JoinMode))
	case c.HistoryRetention <= 0:
		return cli.FlagError("history-retention", "HISTORY_RETENTION", "must be positive")
	case c.Workers < 0:
		return cli.FlagError("workers", "WORKERS", "must not be negative")
	case c.HoldMaxEvents < 0:
		return cli.FlagError("join-hold-max-events", "JOIN_HOLD_MAX_EVENTS", "must not be negative")
	case c.HoldMaxBytes < 0:
		return cli.FlagError("join-hold-max-bytes", "JOIN_HOLD_MAX_BYTES", "must not be negative")
	}
	for _, t := range c.EventsTopics {
		if t == c.ContentTopic || t == c.OutputTopic {
			return cli.FlagError("events-topics", "EVENTS_TOPICS", fmt.Sprintf("%q is also the content or output topic", t))
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return cli.FlagError("http-addr", "HTTP_ADDR", fmt.Sprintf("%q is not host:port", c.HTTPAddr))
	}
	if c.SchemaRegistryURL != "" {
		if _, err := registry.New(c.SchemaRegistryURL); err != nil {
			return cli.FlagError("schema-registry-url", "SCHEMA_REGISTRY_URL", err.Error())
		}
	}
	if c.ConsoleRedisURL != "" {
		if _, err := redis.ParseURL(c.ConsoleRedisURL); err != nil {
			return cli.FlagError("console-redis-url", "CONSOLE_REDIS_URL", err.Error())
		}
	}
	if c.PruneInterval <= 0 {
		c.PruneInterval = 10 * time.Minute
	}
	return nil
}

// Main is the wired service. NewMain opens what can fail fast (the data dir,
// the HTTP port); Run runs every part until the context ends or one fails;
// Close releases what Run did not.
type Main struct {
	cfg      RunConfig
	log      *zap.Logger
	Registry *prometheus.Registry
	Store    *store.Store
	View     *cdc.Consumer

	listener  net.Listener
	server    *http.Server
	writer    *kafka.Writer // output and DLQ records, of every part
	registry  *registry.Client
	decoder   *debezium.Decoder
	enricher  atomic.Pointer[enricher.Processor]
	blocked   atomic.Pointer[string] // why the enricher cannot start, shown by /readyz
	closeOnce sync.Once

	// Errors keeps the last Error-level log entries for the console.
	Errors       *httpapi.ErrRing
	consoleRedis *redis.Client
}

// NewMain validates cfg and opens the service's resources.
func NewMain(cfg RunConfig, log *zap.Logger) (*Main, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	errs := httpapi.NewErrRing(50)
	log = log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, errs.Core()) }))
	m := &Main{cfg: cfg, log: log, Registry: httpx.NewRegistry(), Errors: errs}

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, cli.FlagError("data-dir", "DATA_DIR", fmt.Sprintf("create %q: %v", cfg.DataDir, err))
	}
	st, err := store.Open(store.Options{Dir: cfg.DataDir, HistoryRetention: cfg.HistoryRetention, Logger: log.Named("store")})
	if err != nil {
		return nil, fmt.Errorf("open content view in --data-dir %q: %w (is another enricher using it? if it is damaged, delete it to rebuild from Kafka)", cfg.DataDir, err)
	}
	m.Store = st

	var src debezium.SchemaSource
	if cfg.SchemaRegistryURL != "" {
		m.registry, err = registry.New(cfg.SchemaRegistryURL)
		if err != nil {
			m.Close()
			return nil, cli.FlagError("schema-registry-url", "SCHEMA_REGISTRY_URL", err.Error())
		}
		src = m.registry
		// Not ready before the output schema is registered: runEnricher
		// clears this once it is, or replaces it with why it cannot be.
		reason := "schema registry: registering " + schemas.Subject
		m.blocked.Store(&reason)
	}
	m.decoder = debezium.NewDecoder(src)

	m.writer = kafkax.NewWriter(cfg.Brokers)
	m.View, err = cdc.New(cdc.Config{
		Brokers: cfg.Brokers, Topic: cfg.ContentTopic, DLQTopic: cfg.DLQTopic,
		Store: st, Decoder: m.decoder, DLQ: m.writer,
		Logger: log.Named("cdc"), Registerer: m.Registry,
	})
	if err != nil {
		m.Close()
		return nil, err
	}

	var top httpapi.TopReader
	if cfg.ConsoleRedisURL != "" {
		opts, _ := redis.ParseURL(cfg.ConsoleRedisURL) // checked by validate
		// The console polls: fail fast rather than queue behind a dead Redis.
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.MaxRetries = time.Second, time.Second, time.Second, -1
		m.consoleRedis = redis.NewClient(opts)
		top = m.consoleRedis
	}
	// The console's DLQ page reads at most this many records per partition
	// (and 3s, httpapi's bound) per request.
	dlqReader, err := dlq.NewReader(dlq.ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.DLQTopic, MaxScan: 10_000, Logger: log.Named("dlq")})
	if err != nil {
		m.Close()
		return nil, err
	}
	h, err := httpapi.NewHandler(httpapi.Config{View: st, Tracker: m.View, Gatherer: m.Registry, Logger: log.Named("http"),
		Errors: m.Errors, Redis: top, DLQ: dlqReader,
		Queries: st, Explain: m.explainJoin,
		Stats: func() map[string]any {
			// engagement: the consumer group's position in each engagement
			// topic-partition, as the content view's is under partitions.
			out := map[string]any{"engagement": []kafkax.PartitionStatus{}}
			if e := m.enricher.Load(); e != nil {
				out["enricher"] = e.Stats()
				out["engagement"] = e.Positions()
			}
			return out
		},
		Blocked: func() string {
			if r := m.blocked.Load(); r != nil {
				return *r
			}
			return ""
		}})
	if err != nil {
		m.Close()
		return nil, err
	}
	m.listener, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		m.Close()
		return nil, cli.FlagError("http-addr", "HTTP_ADDR", fmt.Sprintf("listen on %q: %v (is the port in use?)", cfg.HTTPAddr, err))
	}
	m.server = httpx.NewServer(cfg.HTTPAddr, h, log.Named("http"))
	return m, nil
}

// HTTPAddr is the address the HTTP server listens on (useful with port 0).
func (m *Main) HTTPAddr() string { return m.listener.Addr().String() }

// explainJoin answers /debug/join with the running enricher's rule; 503
// until it runs over a ready view.
func (m *Main) explainJoin(id uuid.UUID, eventTsMs int64) (httpapi.JoinAnswer, error) {
	e := m.enricher.Load()
	switch {
	case !m.View.Ready():
		return httpapi.JoinAnswer{}, fmt.Errorf("%w: the content view is not ready yet (see /readyz), so the enricher is not joining", httpapi.ErrUnavailable)
	case e == nil:
		return httpapi.JoinAnswer{}, fmt.Errorf("%w: the enricher has not started yet (see /readyz)", httpapi.ErrUnavailable)
	}
	x, err := e.Explain(id, eventTsMs)
	if err != nil {
		return httpapi.JoinAnswer{}, err
	}
	return httpapi.JoinAnswer{Mode: x.Mode.String(), Decision: string(x.Decision), Reason: x.Reason, Version: x.Version}, nil
}

// Run runs the service until ctx ends (it then drains and returns nil) or a
// part fails (it then stops the others and returns the failure). The parts
// (the HTTP server, the content view, the history pruner and the enricher)
// run as one rungroup: Run returns only once every one has.
func (m *Main) Run(ctx context.Context) error {
	// Topics the service writes are created when missing, so a fresh cluster
	// works; a platform that manages topics has them already.
	if err := kafkax.EnsureTopics(ctx, m.cfg.Brokers, m.log,
		kafkax.Topic(m.cfg.DLQTopic, 1, ""), kafkax.Topic(m.cfg.OutputTopic, 6, "")); err != nil {
		m.log.Warn("create topics (they may need to be created by hand)", zap.Error(err))
	}
	stop := context.AfterFunc(ctx, func() { m.log.Info("shutting down") })
	defer stop()

	g := rungroup.New(ctx, m.log)
	g.Serve(m.server, m.listener)
	g.Go("content view", m.View.Run)
	g.Go("prune", func(ctx context.Context) error { return m.Store.PruneEvery(ctx, m.cfg.PruneInterval) })
	g.Go("enricher", m.runEnricher)
	m.log.Info("enricher running", zap.String("http", m.HTTPAddr()), zap.Strings("brokers", m.cfg.Brokers),
		zap.String("content_topic", m.cfg.ContentTopic), zap.String("data_dir", m.cfg.DataDir))
	return g.Run()
}

// runEnricher registers the output schema (retrying while the registry is
// unreachable), then enriches until ctx ends.
func (m *Main) runEnricher(ctx context.Context) error {
	framing, id := schemas.FramingSingleObject, 0
	if m.registry != nil {
		framing = schemas.FramingConfluent
		err := retry.Default.Do(ctx, ctx, func(ctx context.Context) (err error) {
			id, err = schemas.Register(ctx, m.registry)
			return err
		}, nil, func(_ int, err error) {
			reason := fmt.Sprintf("schema registry: cannot register %s: %v", schemas.Subject, err)
			m.blocked.Store(&reason)
			m.log.Warn("register output schema; retrying", zap.String("subject", schemas.Subject), zap.Error(err))
		})
		if err != nil {
			return nil // only shutdown ends the retries
		}
	}
	m.blocked.Store(nil)
	enc, err := schemas.NewEncoder(id, framing)
	if err != nil {
		return err
	}
	mode := enricher.ModeAsOf
	if m.cfg.JoinMode == "latest" {
		mode = enricher.ModeLatest
	}
	e, err := enricher.New(enricher.Config{
		Brokers: m.cfg.Brokers, Topics: m.cfg.EventsTopics, Group: m.cfg.Group,
		OutputTopic: m.cfg.OutputTopic, DLQTopic: m.cfg.DLQTopic,
		View: m.Store, Freshness: m.View, Decoder: m.decoder, Encoder: enc,
		Mode: mode, JoinWait: m.cfg.JoinWait, HoldMaxEvents: m.cfg.HoldMaxEvents, HoldMaxBytes: m.cfg.HoldMaxBytes,
		ExactlyOnce: m.cfg.ExactlyOnce, Workers: m.cfg.Workers, SourceHeaders: m.cfg.SourceHeaders,
		Logger: m.log.Named("enricher"), Registerer: m.Registry, GroupConfig: m.cfg.groupHook,
	})
	if err != nil {
		return err
	}
	m.enricher.Store(e)
	return e.Run(ctx)
}

// Close releases the service's resources; it is safe to call more than once.
func (m *Main) Close() {
	m.closeOnce.Do(func() {
		if m.listener != nil {
			_ = m.listener.Close()
		}
		if m.writer != nil {
			_ = m.writer.Close()
		}
		if m.consoleRedis != nil {
			_ = m.consoleRedis.Close()
		}
		if m.Store != nil {
			if err := m.Store.Close(); err != nil {
				m.log.Error("close content view", zap.Error(err))
			}
		}
	})
}
