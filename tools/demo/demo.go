package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/httpx"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/rungroup"
	httpsink "github.com/thmanyah/enricher/sink/http"
	redissink "github.com/thmanyah/enricher/sink/redis"
	"github.com/thmanyah/enricher/tools/capture"
	"github.com/thmanyah/enricher/tools/datagen"
	"github.com/thmanyah/enricher/tools/receiver"
)

// Service is the enricher as the demo runs it: consuming the contract's
// topics from ServiceEnv.Brokers, its view in ServiceEnv.DataDir (see
// Config.Service).
type Service interface {
	// Run runs the service until ctx ends (then it returns nil) or it fails.
	Run(ctx context.Context) error
	// HTTPAddr is the address its HTTP server listens on.
	HTTPAddr() string
	// Gatherer reads its metrics, for the status line.
	Gatherer() prometheus.Gatherer
	// Close releases what Run did not.
	Close()
}

// Config configures a demo.
type Config struct {
	// Rate is the engagement events generated per second; it must be positive.
	Rate float64
	// UpdateRate is the content updates and deletes per second; 0 is none.
	UpdateRate  float64
	Seed        uint64        // of the data generator
	StatusEvery time.Duration // how often the status line is printed; must be positive
	// Duration, when positive, stops the demo after that long; 0 runs until
	// ctx ends; it must not be negative.
	Duration time.Duration
	// NoPostgres skips Postgres even when its binaries are found.
	NoPostgres bool
	// NoRedis skips redis-server and the Redis sink even when found.
	NoRedis bool
	// Service opens the service in the demo's environment.
	Service func(ServiceEnv) (Service, error)
}

// ServiceEnv is what the demo started for the service.
type ServiceEnv struct {
	Brokers []string
	DataDir string // temporary, deleted when the demo ends
	// RedisURL is the temporary redis-server the Redis sink writes
	// engagement:top:10m to; empty when there is none.
	RedisURL string
}

// FieldError is the error of Run for a Config value it refuses: Field
// names the Config field.
type FieldError = field.Error

// validate checks every field; an error is a *FieldError, but for a
// missing Service.
func (c *Config) validate() error {
	switch {
	case !(c.Rate > 0) || math.IsInf(c.Rate, 0):
		return field.Refuse("Rate", "must be positive")
	case !(c.UpdateRate >= 0) || math.IsInf(c.UpdateRate, 0):
		return field.Refuse("UpdateRate", "must not be negative (0: no content changes)")
	case c.StatusEvery <= 0:
		return field.Refuse("StatusEvery", "must be positive")
	case c.Duration < 0:
		return field.Refuse("Duration", "must not be negative (0: until Ctrl-C)")
	case c.Service == nil:
		return errors.New("demo: no service")
	}
	return nil
}

// topics are the contract's topics as the demo creates them.
var topics = []struct {
	name  string
	parts int32
	conf  map[string]string
}{
	{kafkax.TopicContent, 3, map[string]string{"cleanup.policy": "compact"}},
	{kafkax.TopicEngagement, 3, nil},
	{kafkax.TopicBackfill, 1, nil},
	{kafkax.TopicOutput, 3, nil},
	{kafkax.TopicDLQ, 1, nil},
}

// drainLimit bounds the wait, once datagen stopped, for the service to
// account for every generated event: a little more than the demo's join
// wait (5s), after which a held event leaves the hold as a miss.
const drainLimit = 7 * time.Second

// Run runs the demo until ctx ends, cfg.Duration passes, or a part fails,
// writing what it does to out; log receives the parts' logs. It validates
// cfg first: a refused value is a *FieldError returned before anything
// starts. The first line it writes is the console's URL.
func Run(ctx context.Context, cfg Config, log *zap.Logger, out io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if log == nil {
		log = zap.NewNop()
	}
	start := time.Now()
	stopCtx := ctx // its end starts the orderly stop: datagen first, then the rest
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		stopCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		return net.Listen(network, "127.0.0.1:0")
	}))
	if err != nil {
		return fmt.Errorf("start in-process kafka: %w", err)
	}
	defer kc.Close()
	brokers := kc.ListenAddrs()
	for _, t := range topics {
		if err := kc.CreateTopic(t.name, t.parts, t.conf); err != nil {
			return fmt.Errorf("create topic %s: %w", t.name, err)
		}
	}
	// What starts before the service is told after the console's URL, which
	// comes first; the slow starts (Postgres) come before the service is
	// opened, so that its URL answers soon after it is printed.
	notes := []string{fmt.Sprintf("kafka (in-process) on %s", brokers[0])}
	fail := func(err error) error {
		fmt.Fprintln(out, strings.Join(notes, "\n"))
		return err
	}

	dataDir, err := os.MkdirTemp("", "enricher-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	var rs *redisServer
	switch why := ""; {
	case cfg.NoRedis:
		notes = append(notes, "redis: skipped (--no-redis): no Redis sink")
	default:
		if rs, why = startRedis(ctx); rs == nil {
			notes = append(notes, "redis: skipped, "+why+": no Redis sink")
			break
		}
		defer rs.stop()
		notes = append(notes, fmt.Sprintf("redis-server (temporary, no persistence) on %s", rs.addr))
	}
	// In datagen.Config a zero rate means the default and a negative one none.
	gcfg := datagen.Config{Rate: cfg.Rate, UpdateRate: cfg.UpdateRate, Seed: cfg.Seed, Logger: log.Named("datagen")}
	if gcfg.UpdateRate == 0 {
		gcfg.UpdateRate = -1
	}
	var cp *capture.Capture
	target := "kafka (synthetic Debezium records)"
	pg, note, err := startPostgres(ctx, cfg.NoPostgres)
	notes = append(notes, note)
	if err != nil {
		return fail(err)
	}
	if pg != nil {
		defer pg.Stop()
		url := pg.URL("postgres")
		if cp, err = capture.New(capture.Config{PGURL: url, Brokers: brokers, Logger: log.Named("capture")}); err != nil {
			return fail(err)
		}
		gcfg.PGURL, target = url, "postgres"
	} else {
		gcfg.Brokers = brokers
	}
	gen, err := datagen.New(gcfg)
	if err != nil {
		return fail(err)
	}

	env := ServiceEnv{Brokers: brokers, DataDir: dataDir}
	if rs != nil {
		env.RedisURL = rs.url()
	}
	svc, err := cfg.Service(env)
	if err != nil {
		return fail(err)
	}
	defer svc.Close()
	base := "http://" + svc.HTTPAddr()
	fmt.Fprintf(out, "console: %s/  (Ctrl-C to stop)\n", base)
	fmt.Fprintln(out, strings.Join(notes, "\n"))
	fmt.Fprintf(out, "enricher: %s/debug/stats  %s/metrics\n", base, base)
	// Not ctx: a Ctrl-C now still gets the demo's orderly stop, not an error.
	if err := inject(context.WithoutCancel(ctx), brokers); err != nil {
		return err
	}
	whys := make([]string, len(malformed))
	for i, m := range malformed {
		whys[i] = m.why
	}
	fmt.Fprintf(out, "injected %d malformed engagement records into %s (%s): the service dead-letters them to %s\n",
		len(malformed), kafkax.TopicEngagement, strings.Join(whys, ", "), kafkax.TopicDLQ)

	recvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	recv := receiver.New(receiver.Config{Logger: log.Named("receiver")})
	recvURL := "http://" + recvLn.Addr().String()
	fmt.Fprintf(out, "receiver (stand-in external system): %s/stats\n", recvURL)
	fmt.Fprintf(out, "http sink (group enricher-sink-http): %s -> POST %s/events\n", kafkax.TopicOutput, recvURL)
	var rdb *redis.Client
	if rs != nil {
		rdb = redis.NewClient(&redis.Options{Addr: rs.addr})
		defer rdb.Close()
		fmt.Fprintf(out, "redis sink (group enricher-sink-redis): %s -> %s in %s\n", kafkax.TopicOutput, redissink.DefaultTopKey, rs.url())
	}

	// The group's context ends only when a part returns: stopCtx ending is
	// the "stop" part's cue to stop datagen, let the pipeline drain and
	// then return, which stops the rest.
	g := rungroup.New(context.WithoutCancel(ctx), log)
	stopGen, genDone := make(chan struct{}), make(chan struct{})
	if cp != nil {
		g.Go("capture", cp.Run)
	}
	g.Go("datagen", func(ctx context.Context) error {
		gctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-stopGen:
				cancel()
			case <-gctx.Done():
			}
		}()
		err := gen.Run(gctx)
		close(genDone)
		if err != nil {
			return err
		}
		<-ctx.Done() // stopped first on purpose: the rest drains meanwhile
		return nil
	})
	g.Go("run", svc.Run)
	g.Serve(httpx.NewServer("", recv, log.Named("receiver")), recvLn)
	g.Go("http sink", func(ctx context.Context) error {
		return httpsink.Run(ctx, httpsink.Config{URL: recvURL + "/events", Brokers: brokers, Topic: kafkax.TopicOutput,
			Group: "enricher-sink-http", DLQTopic: kafkax.TopicDLQ, BatchSize: 500, Concurrency: 4, Timeout: 10 * time.Second,
			MaxRetries: 8, Linger: 50 * time.Millisecond, BreakerFailures: 5, BreakerCooldown: 5 * time.Second,
			HTTPAddr: "127.0.0.1:0"}, log.Named("sink.http"))
	})
	if rs != nil {
		g.Go("redis sink", func(ctx context.Context) error {
			return redissink.Run(ctx, redissink.Config{RedisURL: rs.url(), Brokers: brokers, Topic: kafkax.TopicOutput,
				Group: "enricher-sink-redis", DLQTopic: kafkax.TopicDLQ, Window: 10 * time.Minute, Top: 10,
				ContentAPI: base, HTTPAddr: "127.0.0.1:0"}, log.Named("sink.redis"))
		})
	}
	w := &watcher{out: out, start: start, every: cfg.StatusEvery, svc: svc.Gatherer(), rdb: rdb, recv: recv,
		generated: func() int64 { return gen.Stats().Events + int64(len(malformed)) }}
	g.Go("status", w.run)
	sum := summary{target: target, injected: int64(len(malformed)), top: -1, dlqTopic: -1}
	var final bool
	g.Go("stop", func(ctx context.Context) error {
		select {
		case <-ctx.Done(): // a part failed
			return nil
		case <-stopCtx.Done():
		}
		close(stopGen)
		select {
		case <-genDone:
		case <-ctx.Done():
			return nil
		}
		fmt.Fprintf(out, "stopping: datagen stopped; waiting up to %s for the service to account for every event and the receiver to have every record\n", drainLimit)
		drainStart := time.Now()
		sum.datagen = gen.Stats().Events
		// Drained: the service accounted for every generated event and the
		// receiver has every record the service wrote (so the summary's
		// downstream line is final too).
		sum.c, sum.drained = drain(ctx, svc.Gatherer(), drainLimit, func(c counts) bool {
			return int64(c.joined+c.miss+c.noContentID+c.engDLQ) >= sum.generated() && c.held == 0 &&
				recv.Stats().Events >= int64(c.out)
		})
		if sum.drained {
			fmt.Fprintf(out, "drained in %.1fs\n", time.Since(drainStart).Seconds())
		} else {
			fmt.Fprintf(out, "not drained after %s: the summary says what is missing\n", drainLimit)
		}
		w.downstream(ctx, &sum)
		if n, err := topicRecords(ctx, brokers, kafkax.TopicDLQ); err == nil {
			sum.dlqTopic = n
		}
		final = true
		return nil
	})
	err = g.Run()
	if !final {
		sum.datagen, sum.c = gen.Stats().Events, readCounts(svc.Gatherer())
	}
	sum.elapsed = time.Since(start)
	sum.write(out)
	return err
}

// drain waits until done holds for the service's counters or limit
// passes, and returns the counters then and whether done held.
func drain(ctx context.Context, g prometheus.Gatherer, limit time.Duration, done func(counts) bool) (counts, bool) {
	deadline := time.Now().Add(limit)
	for {
		c := readCounts(g)
		if done(c) {
			return c, true
		}
		if time.Now().After(deadline) {
			return c, false
		}
		select {
		case <-ctx.Done():
			return readCounts(g), false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startPostgres starts a temporary cluster with the contract's tables, or
// says why there is none (nil, the reason, nil); an error is one the cluster
// gave after it started. note says what happened, for the output.
func startPostgres(ctx context.Context, skip bool) (pg *pgtemp.Cluster, note string, err error) {
	const fallback = "synthetic Debezium records go straight to Kafka"
	if skip {
		return nil, "postgres: skipped (--no-postgres): " + fallback, nil
	}
	pg, err = pgtemp.Start(ctx)
	switch {
	case errors.Is(err, pgtemp.ErrNoServer):
		return nil, "postgres: server binaries not found (apt-get install postgresql): " + fallback, nil
	case err != nil:
		return nil, fmt.Sprintf("postgres: could not start (%v): %s", err, fallback), nil
	}
	note = fmt.Sprintf("postgres (temporary) at %s: datagen -> postgres -> capture -> kafka", pg.URL("postgres"))
	if err := pg.Exec(ctx, "postgres", datagen.Schema); err != nil {
		pg.Stop()
		return nil, note, fmt.Errorf("create schema: %w", err)
	}
	return pg, note, nil
}
