package datagen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/kafkax"
)

// Schema is the contract's DDL of the two tables, safe to run again.
const Schema = `CREATE TABLE IF NOT EXISTS content (
  id UUID PRIMARY KEY,
  slug TEXT UNIQUE NOT NULL,
  title TEXT NOT NULL,
  content_type TEXT CHECK (content_type IN ('podcast','newsletter','video')),
  length_seconds INTEGER,
  publish_ts TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS engagement_events (
  id BIGSERIAL PRIMARY KEY,
  content_id UUID REFERENCES content(id),
  user_id UUID,
  event_type TEXT CHECK (event_type IN ('play','pause','finish','click')),
  event_ts TIMESTAMPTZ NOT NULL,
  duration_ms INTEGER,
  device TEXT,
  raw_payload JSONB
);`

// Defaults of the zero Config fields.
const (
	DefaultTopicPrefix = "thmanyah"
	DefaultEventsTopic = kafkax.TopicEngagement
	DefaultCatalogue   = 200
	DefaultRate        = 100
	DefaultUpdateRate  = 0.2
)

// Config says where to write and how much. Exactly one of PGURL and Brokers
// is set. Zero values take the defaults above; a negative Rate or
// UpdateRate turns events or content changes off.
type Config struct {
	PGURL   string   // target Postgres
	Brokers []string // target Kafka
	// TopicPrefix names the content topic <TopicPrefix>.public.content
	// (Kafka only), written as Debezium JSON without schemas.
	TopicPrefix string
	// EventsTopic receives the contract's plain JSON events (Kafka only).
	EventsTopic string
	// Catalogue is the number of content rows the run starts with: rows
	// are created until the table (or, for Kafka, the run) has this many.
	Catalogue  int
	Rate       float64 // engagement events per second
	UpdateRate float64 // content updates and deletes per second
	Seed       uint64  // same seed, same catalogue and event sequence
	Logger     *zap.Logger
}

// Stats counts what a run wrote so far (acknowledged by the target).
type Stats struct {
	Content int64 // rows created: the catalogue plus the replacements of deleted rows
	Events  int64
	Updates int64
	Deletes int64
}

// Generator writes a catalogue and then a paced stream of events and
// changes. It is used for one Run.
type Generator struct {
	cfg                               Config
	log                               *zap.Logger
	started                           atomic.Bool
	content, events, updates, deletes atomic.Int64
	skipped                           int64 // events not generated because the target was too slow
}

// sink is a target: Postgres or Kafka.
type sink interface {
	load(ctx context.Context) ([]row, error) // rows that exist already
	writeContent(ctx context.Context, cs []change, now time.Time) error
	writeEvents(ctx context.Context, evs []event, now time.Time) error
	close()
}

// FieldError is the error of New and RunFor for a Config value they
// refuse: Field names the Config field.
type FieldError = field.Error

// ErrTarget is the refusal of a Config with both or neither of PGURL and
// Brokers.
var ErrTarget = errors.New("datagen: exactly one of PGURL and Brokers must be set")

// checkTarget refuses a Config with both or neither of PGURL and Brokers
// (blank brokers are none).
func (c *Config) checkTarget() error {
	n := 0
	for _, b := range c.Brokers {
		if strings.TrimSpace(b) != "" {
			n++
		}
	}
	if (c.PGURL == "") == (n == 0) {
		return ErrTarget
	}
	return nil
}

// New checks cfg and fills in its defaults. A refused Config is ErrTarget
// or a *FieldError.
func New(cfg Config) (*Generator, error) {
	if err := cfg.checkTarget(); err != nil {
		return nil, err
	}
	var brokers []string
	for _, b := range cfg.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	cfg.Brokers = brokers
	switch {
	case cfg.Catalogue < 0:
		return nil, field.Refuse("Catalogue", fmt.Sprintf("%d is negative", cfg.Catalogue))
	case math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0):
		return nil, field.Refuse("Rate", fmt.Sprintf("%v is not a number of events per second", cfg.Rate))
	case math.IsNaN(cfg.UpdateRate) || math.IsInf(cfg.UpdateRate, 0):
		return nil, field.Refuse("UpdateRate", fmt.Sprintf("%v is not a number of changes per second", cfg.UpdateRate))
	}
	if cfg.PGURL != "" {
		if _, err := pgx.ParseConfig(cfg.PGURL); err != nil {
			return nil, &FieldError{Field: "PGURL", Err: err}
		}
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = DefaultTopicPrefix
	}
	if cfg.EventsTopic == "" {
		cfg.EventsTopic = DefaultEventsTopic
	}
	if cfg.Catalogue == 0 {
		cfg.Catalogue = DefaultCatalogue
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.UpdateRate == 0 {
		cfg.UpdateRate = DefaultUpdateRate
	}
	cfg.Rate, cfg.UpdateRate = max(cfg.Rate, 0), max(cfg.UpdateRate, 0)
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Generator{cfg: cfg, log: log}, nil
}

// Stats returns the counts so far; safe to call during Run.
func (g *Generator) Stats() Stats {
	return Stats{Content: g.content.Load(), Events: g.events.Load(), Updates: g.updates.Load(), Deletes: g.deletes.Load()}
}

const (
	tick         = 10 * time.Millisecond
	chunk        = 1000            // catalogue rows per write
	maxBatch     = 10000           // events per write
	drainTimeout = 5 * time.Second // for the write in hand when ctx ends
	progressLog  = 30 * time.Second
)

// Run creates the schema (Postgres), tops the catalogue up to Catalogue
// rows, then writes events and changes at their rates until ctx ends, when
// it returns nil. Any other end is an error.
func (g *Generator) Run(ctx context.Context) error {
	if !g.started.CompareAndSwap(false, true) {
		return errors.New("datagen: Run called twice")
	}
	err := g.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// RunConfig is what RunFor runs (`enricher datagen`): a Config whose
// rates and catalogue are given in full, not left to the defaults — a zero
// Rate or UpdateRate is none, a negative one is refused, and Catalogue is
// at least 1 — and how long to run.
type RunConfig struct {
	Config
	// Duration, when positive, stops the run after that long; 0 runs until
	// ctx ends.
	Duration time.Duration
}

// config checks rc and returns its Config as New reads it. A refused value
// is ErrTarget or a *FieldError.
func (rc *RunConfig) config() (Config, error) {
	cfg := rc.Config
	if err := cfg.checkTarget(); err != nil {
		return cfg, err
	}
	switch {
	case cfg.Rate < 0:
		return cfg, field.Refuse("Rate", "must not be negative")
	case cfg.UpdateRate < 0:
		return cfg, field.Refuse("UpdateRate", "must not be negative")
	case cfg.Catalogue < 1:
		return cfg, field.Refuse("Catalogue", "must be at least 1")
	case rc.Duration < 0:
		return cfg, field.Refuse("Duration", "must not be negative")
	}
	// New reads a zero rate as the default and a negative one as none.
	if cfg.Rate == 0 {
		cfg.Rate = -1
	}
	if cfg.UpdateRate == 0 {
		cfg.UpdateRate = -1
	}
	return cfg, nil
}

// RunFor validates rc, runs a Generator for it until ctx ends or
// rc.Duration passes, then writes what it wrote as one line to out: what
// `enricher datagen` does. A refused RunConfig is ErrTarget or a
// *FieldError, returned before anything is written.
func RunFor(ctx context.Context, rc RunConfig, out io.Writer) error {
	cfg, err := rc.config()
	if err != nil {
		return err
	}
	g, err := New(cfg)
	if err != nil {
		return err
	}
	if d := rc.Duration; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	target := "postgres"
	if g.cfg.PGURL == "" {
		target = "kafka"
	}
	g.log.Info("datagen starting", zap.String("target", target), zap.Uint64("seed", g.cfg.Seed), zap.Duration("duration", rc.Duration))
	start := time.Now()
	if err := g.Run(ctx); err != nil {
		return err
	}
	el, st := time.Since(start), g.Stats()
	fmt.Fprintf(out, "datagen: %d content rows created, %d events (%.1f/s), %d updates, %d deletes in %s\n",
		st.Content, st.Events, float64(st.Events)/el.Seconds(), st.Updates, st.Deletes, el.Round(time.Millisecond))
	return nil
}

func (g *Generator) run(ctx context.Context) error {
	var (
		s   sink
		err error
	)
	if g.cfg.PGURL != "" {
		s, err = openPG(ctx, g.cfg.PGURL)
	} else {
		s, err = openKafka(ctx, g.cfg, g.log)
	}
	if err != nil {
		return err
	}
	defer s.close()
	existing, err := s.load(ctx)
	if err != nil {
		return err
	}
	m := newModel(g.cfg.Seed, time.Now().UTC().Truncate(24*time.Hour))
	m.adopt(existing)
	var cat []change
	for m.size() < g.cfg.Catalogue {
		cat = append(cat, change{opCreate, m.newContent()})
	}
	for len(cat) > 0 {
		n := min(len(cat), chunk)
		if err := s.writeContent(ctx, cat[:n], time.Now()); err != nil {
			return fmt.Errorf("datagen: write catalogue: %w", err)
		}
		g.content.Add(int64(n))
		cat = cat[n:]
	}
	g.log.Info("catalogue ready", zap.Int("existing", len(existing)), zap.Int64("created", g.content.Load()),
		zap.Float64("rate", g.cfg.Rate), zap.Float64("update_rate", g.cfg.UpdateRate))
	return g.loop(ctx, s, m)
}

// take adds what a tick owes to *owed and returns the whole part, at most
// limit; the rest of a backlog past limit is dropped rather than carried.
func take(owed *float64, add float64, limit int) (n, dropped int) {
	*owed += add
	n = int(*owed)
	*owed -= float64(n)
	if n > limit {
		return limit, n - limit
	}
	return n, 0
}

// loop paces the stream: every tick it emits what the rates owe since the
// last tick, carrying fractions, as one write per kind. A slow target makes
// ticks longer and batches bigger; past a second's worth (or maxBatch) it
// drops the backlog and counts it.
func (g *Generator) loop(ctx context.Context, s sink, m *model) error {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(drainTimeout, cancel) })
	defer stop()
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	last, lastLog := start, start
	var owedEv, owedCh float64
	evLimit, chLimit := min(max(1, int(g.cfg.Rate)), maxBatch), min(max(1, int(g.cfg.UpdateRate)), chunk)
	var evs []event
	var cs []change
	for {
		select {
		case <-ctx.Done():
			st := g.Stats()
			g.log.Info("stopped", zap.Int64("events", st.Events), zap.Int64("content", st.Content),
				zap.Int64("updates", st.Updates), zap.Int64("deletes", st.Deletes), zap.Int64("events_skipped", g.skipped))
			return nil
		case <-t.C:
		}
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now
		nEv, dropped := take(&owedEv, g.cfg.Rate*dt, evLimit)
		g.skipped += int64(dropped)
		nCh, _ := take(&owedCh, g.cfg.UpdateRate*dt, chLimit)
		if nEv > 0 {
			evs = evs[:0]
			for range nEv {
				evs = append(evs, m.nextEvent())
			}
			if err := s.writeEvents(wctx, evs, now); err != nil {
				return fmt.Errorf("datagen: write events: %w", err)
			}
			g.events.Add(int64(nEv))
		}
		if nCh > 0 {
			cs = cs[:0]
			for range nCh {
				cs = append(cs, m.nextChange()...)
			}
			if err := s.writeContent(wctx, cs, time.Now()); err != nil {
				return fmt.Errorf("datagen: write content changes: %w", err)
			}
			for _, c := range cs {
				switch c.Op {
				case opCreate:
					g.content.Add(1)
				case opUpdate:
					g.updates.Add(1)
				case opDelete:
					g.deletes.Add(1)
				}
			}
		}
		if now.Sub(lastLog) >= progressLog {
			lastLog = now
			st := g.Stats()
			g.log.Info("progress", zap.Int64("events", st.Events), zap.Int64("content", st.Content),
				zap.Int64("updates", st.Updates), zap.Int64("deletes", st.Deletes),
				zap.Float64("events_per_s", float64(st.Events)/now.Sub(start).Seconds()),
				zap.Int64("events_skipped", g.skipped))
		}
	}
}
