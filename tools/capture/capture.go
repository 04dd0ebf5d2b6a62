package capture

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/kafkax"
)

// Config configures a Capture. Zero fields take the defaults shown.
type Config struct {
	PGURL       string   // required; the database whose tables are captured
	Tables      []string // "schema.table" or "table" (schema public); default public.content, public.engagement_events
	TopicPrefix string   // topics are <prefix>.<schema>.<table>; default thmanyah
	Slot        string   // logical replication slot; default enricher_capture
	Publication string   // publication of Tables; default enricher_capture
	Brokers     []string // required; Kafka bootstrap brokers
	Partitions  int      // partitions of the topics Capture creates; default 3

	Logger     *zap.Logger           // default: no logging
	Registerer prometheus.Registerer // nil: no metrics registered

	// FlushTimeout bounds the final Kafka flush when Run's context ends; default 30s.
	FlushTimeout time.Duration
}

// Stats is a snapshot of a Capture's progress since New (counts add up over Runs).
type Stats struct {
	SnapshotDone bool          // the initial snapshot was written (or not needed: the slot existed)
	SnapshotRows int64         // op r records emitted by this Run's snapshot
	StreamRows   int64         // change records (c, u, d, t) decoded from the stream
	Acked        int64         // Kafka records acknowledged, tombstones included
	ConfirmedLSN pglogrepl.LSN // last position confirmed to Postgres (WAL flush position)
	ServerWALEnd pglogrepl.LSN // the server's WAL end as last reported
}

// Capture streams the changes of a set of tables into Debezium-format topics.
type Capture struct {
	cfg    Config
	tables []*table // in Config.Tables order
	log    *zap.Logger
	m      *metrics

	snapshotDone               atomic.Bool
	snapshotRows, streamRows   atomic.Int64
	acked                      atomic.Int64
	confirmedLSN, serverWALEnd atomic.Uint64
	ackHook                    func(commit time.Time) // tests: called per acknowledged transaction
	// slotActiveWait bounds the wait for a previous run's walsender to let go
	// of the slot; statusInterval is the longest a read blocks before
	// confirming what Kafka acknowledged; every heartbeat a status update asks
	// the server for its WAL end, which lets an idle slot advance.
	slotActiveWait, statusInterval, heartbeat time.Duration
}

var (
	identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	nameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,62}$`)
)

// FieldError is the error of New for a Config value it refuses: Field
// names the Config field.
type FieldError = field.Error

// New validates cfg and returns a Capture; it connects to nothing. A
// refused Config is a *FieldError.
func New(cfg Config) (*Capture, error) {
	if cfg.PGURL == "" {
		return nil, field.Refuse("PGURL", "required")
	}
	if _, err := pgconn.ParseConfig(cfg.PGURL); err != nil {
		return nil, &FieldError{Field: "PGURL", Err: err}
	}
	if len(cfg.Brokers) == 0 {
		return nil, field.Refuse("Brokers", "no broker given")
	}
	if len(cfg.Tables) == 0 {
		cfg.Tables = []string{"public.content", "public.engagement_events"}
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = "thmanyah"
	}
	if cfg.Slot == "" {
		cfg.Slot = "enricher_capture"
	}
	if cfg.Publication == "" {
		cfg.Publication = "enricher_capture"
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 3
	}
	if cfg.FlushTimeout == 0 {
		cfg.FlushTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	switch {
	case !identRe.MatchString(cfg.Slot):
		return nil, field.Refuse("Slot", fmt.Sprintf("%q: want lower-case letters, digits and _", cfg.Slot))
	case !identRe.MatchString(cfg.Publication):
		return nil, field.Refuse("Publication", fmt.Sprintf("%q: want lower-case letters, digits and _", cfg.Publication))
	case cfg.Partitions < 1:
		return nil, field.Refuse("Partitions", fmt.Sprintf("%d: want at least 1", cfg.Partitions))
	case strings.ContainsAny(cfg.TopicPrefix, " /\\,"):
		return nil, field.Refuse("TopicPrefix", fmt.Sprintf("%q is not a valid topic name part", cfg.TopicPrefix))
	}
	c := &Capture{cfg: cfg, log: cfg.Logger, slotActiveWait: 30 * time.Second,
		statusInterval: 200 * time.Millisecond, heartbeat: 10 * time.Second}
	seen := map[string]bool{}
	for _, name := range cfg.Tables {
		schema, tbl, ok := strings.Cut(name, ".")
		if !ok {
			schema, tbl = "public", name
		}
		if !nameRe.MatchString(schema) || !nameRe.MatchString(tbl) {
			return nil, field.Refuse("Tables", fmt.Sprintf("%q: want schema.table of plain identifiers", name))
		}
		if seen[schema+"."+tbl] {
			return nil, field.Refuse("Tables", fmt.Sprintf("%q listed twice", name))
		}
		seen[schema+"."+tbl] = true
		c.tables = append(c.tables, newTable(schema, tbl, cfg.TopicPrefix))
	}
	var err error
	if c.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("capture: metrics: %w", err)
	}
	return c, nil
}

// Stats reports progress; it is safe to call concurrently with Run.
func (c *Capture) Stats() Stats {
	return Stats{
		SnapshotDone: c.snapshotDone.Load(),
		SnapshotRows: c.snapshotRows.Load(),
		StreamRows:   c.streamRows.Load(),
		Acked:        c.acked.Load(),
		ConfirmedLSN: pglogrepl.LSN(c.confirmedLSN.Load()),
		ServerWALEnd: pglogrepl.LSN(c.serverWALEnd.Load()),
	}
}

// Run captures until ctx ends, then writes what it holds to Kafka, confirms
// it to Postgres and returns nil. Any other failure ends Run with an error;
// nothing unacknowledged was confirmed, so running again loses nothing.
func (c *Capture) Run(ctx context.Context) (err error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return quiet(ctx, fmt.Errorf("capture: connect: %w", err))
	}
	defer conn.Close(context.Background())
	db, err := c.prepare(ctx, conn)
	if err != nil {
		return quiet(ctx, fmt.Errorf("capture: %w", err))
	}
	if err := c.ensureTopics(ctx); err != nil {
		return quiet(ctx, fmt.Errorf("capture: %w", err))
	}
	w := kafkax.NewWriter(c.cfg.Brokers)
	// The sink batches (see sink.go): smaller requests per partition, less
	// linger, and more attempts, since a failed write stops the capture.
	w.BatchSize, w.BatchTimeout, w.MaxAttempts = writerBatch, 100*time.Microsecond, 10
	defer w.Close()
	repl, err := c.connectRepl(ctx)
	if err != nil {
		return quiet(ctx, fmt.Errorf("capture: replication connection: %w", err))
	}
	defer repl.Close(context.Background())

	sk := newSink(c, w)
	sinkCtx, stopSink := context.WithCancel(context.Background())
	defer stopSink()
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sk.run(sinkCtx) }()

	st := &streamer{c: c, conn: conn, repl: repl, sink: sk, db: db, env: newEnvelope(c.cfg.TopicPrefix, db)}
	runErr := c.capture(ctx, st)

	// Shut down: everything handed to the sink is written, then confirmed.
	close(sk.in)
	timer := time.NewTimer(c.cfg.FlushTimeout)
	defer timer.Stop()
	var sinkErr error
	select {
	case sinkErr = <-sinkDone:
	case <-timer.C:
		stopSink()
		sinkErr = fmt.Errorf("flush to kafka: no acknowledgement within %v: %w", c.cfg.FlushTimeout, <-sinkDone)
	}
	if runErr == nil && sinkErr != nil {
		runErr = fmt.Errorf("capture: %w", sinkErr)
	}
	if st.started && !repl.IsClosed() {
		if err := st.sendStatus(time.Now()); err != nil && runErr == nil {
			runErr = fmt.Errorf("capture: final confirm: %w", err)
		}
	}
	c.log.Info("capture stopped", zap.Stringer("confirmed_lsn", pglogrepl.LSN(c.confirmedLSN.Load())),
		zap.Int64("acked", c.acked.Load()), zap.Error(runErr))
	return runErr
}

// capture runs the snapshot when the slot is new, then streams.
func (c *Capture) capture(ctx context.Context, st *streamer) error {
	start, snap, err := c.slot(ctx, st)
	if err != nil {
		return quiet(ctx, fmt.Errorf("capture: %w", err))
	}
	st.sink.setAcked(start)
	if snap != nil {
		if err := c.snapshot(ctx, st, snap); err != nil {
			return quiet(ctx, fmt.Errorf("capture: snapshot: %w", err))
		}
	}
	c.snapshotDone.Store(true)
	if err := st.stream(ctx, start); err != nil {
		return quiet(ctx, fmt.Errorf("capture: %w", err))
	}
	return nil
}

// quiet turns an error caused by ctx ending into the nil Run promises.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type metrics struct {
	rows      *prometheus.CounterVec
	write     prometheus.Histogram
	commitAck prometheus.Histogram
	lag       prometheus.Gauge
	confirmed prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_capture_rows_total",
			Help: "Change records captured, by table and Debezium op (r, c, u, d, t).",
		}, []string{"table", "op"}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_capture_kafka_write_seconds",
			Help:    "Time for Kafka to acknowledge one batch of records (acks=all).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		commitAck: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_capture_commit_to_ack_seconds",
			Help:    "From a transaction's commit in Postgres to Kafka acknowledging its records.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_capture_confirmed_lag_bytes",
			Help: "Bytes of WAL between the server's WAL end and the position confirmed to it.",
		}),
		confirmed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_capture_confirmed_lsn",
			Help: "Last WAL position confirmed to Postgres, as a number.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.rows, m.write, m.commitAck, m.lag, m.confirmed} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (c *Capture) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.cfg.PGURL)
	if err != nil {
		return nil, err
	}
	setParams(cfg.RuntimeParams)
	return pgx.ConnectConfig(ctx, cfg)
}

func (c *Capture) connectRepl(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(c.cfg.PGURL)
	if err != nil {
		return nil, err
	}
	setParams(cfg.RuntimeParams)
	cfg.RuntimeParams["replication"] = "database"
	return pgconn.ConnectConfig(ctx, cfg)
}

// setParams fixes the settings that decide the text form of values: the
// snapshot's query and logical decoding must print them the same way.
func setParams(p map[string]string) {
	p["application_name"] = "enricher-capture"
	p["timezone"] = "UTC"
	p["datestyle"] = "ISO, YMD"
	p["extra_float_digits"] = "1"
}
