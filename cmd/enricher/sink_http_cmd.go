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
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/httpapi"
	"github.com/thmanyah/enricher/registry"
	"github.com/thmanyah/enricher/schemas"
	httpsink "github.com/thmanyah/enricher/sink/http"
)

// SinkHTTPConfig is what `enricher sink http` is configured with.
type SinkHTTPConfig struct {
	URL               string
	Brokers           []string
	Topic             string
	Group             string
	DLQTopic          string
	BatchSize         int
	Concurrency       int
	Timeout           time.Duration
	MaxRetries        int
	Linger            time.Duration
	BreakerFailures   int
	BreakerCooldown   time.Duration
	SchemaRegistryURL string
	HTTPAddr          string
	LogLevel          string
}

func (c *SinkHTTPConfig) validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return flagError("url", "SINK_HTTP_URL", "no endpoint given")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return flagError("url", "SINK_HTTP_URL", fmt.Sprintf("%q is not an http(s) URL", c.URL))
	case len(c.Brokers) == 0:
		return flagError("brokers", "KAFKA_BROKERS", "no broker given")
	case c.Topic == "":
		return flagError("topic", "OUTPUT_TOPIC", "empty")
	case c.Group == "":
		return flagError("group", "SINK_HTTP_GROUP", "empty")
	case c.DLQTopic == "" || c.DLQTopic == c.Topic:
		return flagError("dlq-topic", "DLQ_TOPIC", "empty or the input topic")
	case c.BatchSize <= 0:
		return flagError("batch", "SINK_HTTP_BATCH", "must be positive")
	case c.Concurrency <= 0:
		return flagError("concurrency", "SINK_HTTP_CONCURRENCY", "must be positive")
	case c.Timeout <= 0:
		return flagError("timeout", "SINK_HTTP_TIMEOUT", "must be positive")
	case c.MaxRetries < 0:
		return flagError("max-retries", "SINK_HTTP_MAX_RETRIES", "must not be negative")
	case c.Linger <= 0:
		return flagError("linger", "SINK_HTTP_LINGER", "must be positive")
	case c.BreakerFailures <= 0:
		return flagError("breaker-failures", "SINK_HTTP_BREAKER_FAILURES", "must be positive")
	case c.BreakerCooldown <= 0:
		return flagError("breaker-cooldown", "SINK_HTTP_BREAKER_COOLDOWN", "must be positive")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return flagError("http-addr", "SINK_HTTP_ADDR", fmt.Sprintf("%q is not host:port", c.HTTPAddr))
	}
	if c.SchemaRegistryURL != "" {
		u, err := url.Parse(c.SchemaRegistryURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return flagError("schema-registry-url", "SCHEMA_REGISTRY_URL", fmt.Sprintf("%q is not an http(s) URL", c.SchemaRegistryURL))
		}
	}
	return nil
}

func newSinkHTTPCmd() *cobra.Command {
	var cfg SinkHTTPConfig
	var brokers string
	cmd := &cobra.Command{
		Use:   "http",
		Short: "Deliver enriched events to an external HTTP endpoint, with retries and a DLQ",
		Long: `http consumes the output topic in its own consumer group and POSTs the events
to --url as JSON batches {"events":[...]}, each with an Idempotency-Key that is
the same whenever the same records are sent again (after a retry, a crash or a
rebalance). Failed POSTs are retried with backoff; 429 and Retry-After are
honoured; a circuit breaker pauses delivery while the endpoint is down. A batch
refused with a 4xx (other than 408 and 429), or still failing after
--max-retries, goes to the DLQ topic, as do records that cannot be decoded.
Offsets are committed only after that. /metrics and /healthz are served on
--http-addr. It exits 0 on SIGINT or SIGTERM after finishing the POSTs in flight.`,
		Args:    cobra.NoArgs,
		PreRunE: applyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Brokers = splitList(brokers)
			if err := cfg.validate(); err != nil {
				return err
			}
			log, err := newLogger(cfg.LogLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			return runSinkHTTP(cmd.Context(), cfg, log)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.URL, "url", "", "endpoint the batches are POSTed to (required)")
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cfg.Topic, "topic", "processed_engagements", "topic of the enriched Avro records")
	fs.StringVar(&cfg.Group, "group", "enricher-sink-http", "consumer group of this sink")
	fs.StringVar(&cfg.DLQTopic, "dlq-topic", "enricher.dlq", "dead-letter topic for records that cannot be delivered")
	fs.IntVar(&cfg.BatchSize, "batch", 500, "records per POST at most")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "POSTs in flight at most, across partitions (one per partition)")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "timeout of one POST")
	fs.IntVar(&cfg.MaxRetries, "max-retries", 8, "retries of a failing batch before it goes to the DLQ")
	fs.DurationVar(&cfg.Linger, "linger", 50*time.Millisecond, "how long a batch waits to fill")
	fs.IntVar(&cfg.BreakerFailures, "breaker-failures", 5, "consecutive failures that open the circuit breaker")
	fs.DurationVar(&cfg.BreakerCooldown, "breaker-cooldown", 5*time.Second, "how long the breaker stays open before a probe")
	fs.StringVar(&cfg.SchemaRegistryURL, "schema-registry-url", "", "Confluent Schema Registry URL, for records in the Confluent wire format")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8082", "address of the /metrics and /healthz HTTP server")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	for flag, env := range map[string]string{
		"url": "SINK_HTTP_URL", "brokers": "KAFKA_BROKERS", "topic": "OUTPUT_TOPIC", "group": "SINK_HTTP_GROUP",
		"dlq-topic": "DLQ_TOPIC", "batch": "SINK_HTTP_BATCH", "concurrency": "SINK_HTTP_CONCURRENCY",
		"timeout": "SINK_HTTP_TIMEOUT", "max-retries": "SINK_HTTP_MAX_RETRIES", "linger": "SINK_HTTP_LINGER",
		"breaker-failures": "SINK_HTTP_BREAKER_FAILURES", "breaker-cooldown": "SINK_HTTP_BREAKER_COOLDOWN",
		"schema-registry-url": "SCHEMA_REGISTRY_URL", "http-addr": "SINK_HTTP_ADDR", "log-level": "LOG_LEVEL",
	} {
		bindEnv(fs, flag, env)
	}
	return cmd
}

// runSinkHTTP wires and runs the sink and its HTTP server until ctx ends or
// one of them fails.
func runSinkHTTP(ctx context.Context, cfg SinkHTTPConfig, log *zap.Logger) error {
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
	dlqWriter := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		MaxAttempts:  3,
	}
	defer func() { _ = dlqWriter.Close() }()
	maxRetries := cfg.MaxRetries
	if maxRetries == 0 {
		maxRetries = -1 // the package reads 0 as its default
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sink, err := httpsink.New(httpsink.Config{
		Brokers: cfg.Brokers, Topic: cfg.Topic, Group: cfg.Group, DLQTopic: cfg.DLQTopic, URL: cfg.URL,
		BatchSize: cfg.BatchSize, Concurrency: cfg.Concurrency, Timeout: cfg.Timeout, MaxRetries: maxRetries,
		Linger: cfg.Linger, BreakerFailures: cfg.BreakerFailures, BreakerCooldown: cfg.BreakerCooldown,
		Decoder: dec, DLQ: dlqWriter, Logger: log.Named("sink.http"), Registerer: reg,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return flagError("http-addr", "SINK_HTTP_ADDR", fmt.Sprintf("listen on %q: %v (is the port in use?)", cfg.HTTPAddr, err))
	}
	srv := httpapi.NewServer(cfg.HTTPAddr, mux, log.Named("http"))
	log.Info("http sink running", zap.String("http", ln.Addr().String()), zap.String("url", cfg.URL),
		zap.Strings("brokers", cfg.Brokers), zap.String("topic", cfg.Topic), zap.String("group", cfg.Group))
	return serveAndRun(ctx, srv, ln, log, sink.Run)
}

// serveAndRun serves srv on ln while run runs; whichever ends first (or a
// cancelled ctx) stops the other.
func serveAndRun(ctx context.Context, srv *http.Server, ln net.Listener, log *zap.Logger, run func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
			cancel()
		}
	}()
	if run != nil {
		if err := run(ctx); err != nil {
			errc <- err
		}
	} else {
		<-ctx.Done()
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutdownCtx)
	wg.Wait()
	select {
	case err := <-errc:
		log.Error("stopping after a fatal error", zap.Error(err))
		return err
	default:
		log.Info("stopped")
		return nil
	}
}
