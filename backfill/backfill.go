package backfill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/kafkax"
)

// Result says what a run did.
type Result struct {
	Plan Plan
	// Sent counts the records Kafka acknowledged in this run.
	Sent int64
	// Checkpoint is the checkpoint as last saved.
	Checkpoint Checkpoint
	Elapsed    time.Duration
}

// DryRun counts, exactly, what Run would send with cfg and sends nothing;
// it checks the checkpoint as Run does.
func DryRun(ctx context.Context, cfg Config) (Plan, error) {
	if err := cfg.validate(false); err != nil {
		return Plan{}, fmt.Errorf("backfill: %w", err)
	}
	cp, resumed, err := startingCheckpoint(&cfg)
	if err != nil {
		return Plan{}, fmt.Errorf("backfill: %w", err)
	}
	if cp.Done {
		return Plan{From: cfg.From, To: cfg.To, Topic: cfg.Topic, After: cp.After(), Resumed: true, Done: true}, nil
	}
	src, err := openSource(ctx, &cfg)
	if err != nil {
		return Plan{}, fmt.Errorf("backfill: %w", err)
	}
	defer src.close()
	p, err := src.count(ctx, cp.After(), 0)
	if err != nil {
		return Plan{}, fmt.Errorf("backfill: %w", err)
	}
	p.Topic, p.Resumed = cfg.Topic, resumed
	return p, nil
}

// startingCheckpoint is the checkpoint a run starts from: the saved one when
// resuming (refused when it is of another range), else a new one (refused
// when one exists, so a run never silently overwrites another's progress).
func startingCheckpoint(cfg *Config) (Checkpoint, bool, error) {
	cp, err := LoadCheckpoint(cfg.Checkpoint)
	switch {
	case errors.Is(err, ErrNoCheckpoint):
		if cfg.Resume {
			cfg.Logger.Info("no checkpoint to resume: starting from the beginning of the range", zap.String("checkpoint", cfg.Checkpoint))
		}
		return newCheckpoint(cfg), false, nil
	case err != nil:
		return Checkpoint{}, false, err
	case !cfg.Resume:
		return Checkpoint{}, false, fmt.Errorf("checkpoint %s exists (%s): pass --resume to continue it, or remove it to start over", cfg.Checkpoint, cp)
	}
	if err := cp.compatible(cfg, cfg.Checkpoint); err != nil {
		return Checkpoint{}, false, err
	}
	return cp, true, nil
}

// Run sends the range's rows to Kafka, saving the checkpoint after each
// acknowledged write. It returns when every row was sent, or at the first
// error (the checkpoint then holds the last id acknowledged), or when ctx
// ends. Records written after the last checkpoint are sent again by a
// resumed run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	started := time.Now()
	res, err := run(ctx, &cfg)
	res.Elapsed = time.Since(started)
	if err != nil {
		return res, fmt.Errorf("backfill: %w", err)
	}
	return res, nil
}

func run(ctx context.Context, cfg *Config) (res Result, err error) {
	if err := cfg.validate(true); err != nil {
		return res, err
	}
	log := cfg.Logger
	cp, resumed, err := startingCheckpoint(cfg)
	if err != nil {
		return res, err
	}
	res.Checkpoint = cp
	if cp.Done {
		res.Plan = Plan{From: cfg.From, To: cfg.To, Topic: cfg.Topic, After: cp.After(), Resumed: true, Done: true}
		log.Info("checkpoint says the range was sent completely: nothing to do", zap.String("checkpoint", cfg.Checkpoint))
		return res, nil
	}
	src, err := openSource(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer src.close()
	res.Plan, err = src.count(ctx, cp.After(), cfg.CountTimeout)
	if err != nil {
		return res, err
	}
	res.Plan.Topic, res.Plan.Resumed = cfg.Topic, resumed
	prod := cfg.Producer
	if prod == nil {
		w := newWriter(ctx, cfg)
		defer func() {
			// Close waits for writes still in flight (after an error or
			// cancellation), so nothing is written once Run returned.
			if cerr := w.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close kafka writer: %w", cerr)
			}
		}()
		prod = w
	}
	// Saving before sending anything checks the path is writable and
	// claims it for this range.
	cp.Batch, cp.Rate = cfg.Batch, cfg.Rate
	if err := cp.Save(cfg.Checkpoint); err != nil {
		return res, err
	}
	log.Info("backfill starting", zap.Time("from", cfg.From), zap.Time("to", cfg.To), zap.String("topic", cfg.Topic),
		zap.Int64("total", res.Plan.Count), zap.Bool("total_estimated", res.Plan.Estimated), zap.Bool("resumed", resumed),
		zap.Int64p("after_id", cp.LastID), zap.Int("batch", cfg.Batch), zap.Float64("rate", cfg.Rate))
	if cfg.Progress != nil {
		cfg.Progress.Start(res.Plan.Count, res.Plan.Estimated)
		defer func() { cfg.Progress.Finish(err) }()
	}
	err = send(ctx, cfg, src, prod, &cp, &res)
	res.Checkpoint = cp
	if err != nil {
		return res, err
	}
	cp.Done = true
	if err = cp.Save(cfg.Checkpoint); err != nil {
		return res, err
	}
	res.Checkpoint = cp
	return res, nil
}

// send runs the pipeline: a goroutine reads pages ahead while this one
// writes them in order and saves the checkpoint after each acknowledged write.
func send(ctx context.Context, cfg *Config, src *source, prod Producer, cp *Checkpoint, res *Result) error {
	rctx, cancel := context.WithCancel(ctx)
	pages := make(chan page, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		src.read(rctx, cp.After(), cfg.Batch, pages)
	}()
	// The reader must be gone before src is closed.
	defer func() {
		cancel()
		for range pages {
		}
		<-readDone
	}()
	pace := pacer{rate: cfg.Rate, start: time.Now()}
	chunk := cfg.chunk()
	for p := range pages {
		if p.err != nil {
			if ctx.Err() != nil {
				return interrupted(cp, ctx.Err())
			}
			return p.err
		}
		for i := 0; i < len(p.msgs); i += chunk {
			msgs, ids := p.msgs[i:min(i+chunk, len(p.msgs))], p.ids[i:min(i+chunk, len(p.ids))]
			if err := pace.wait(ctx, len(msgs)); err != nil {
				return interrupted(cp, err)
			}
			if err := ctx.Err(); err != nil {
				return interrupted(cp, err)
			}
			if err := prod.WriteMessages(ctx, msgs...); err != nil {
				if ctx.Err() != nil {
					return interrupted(cp, ctx.Err())
				}
				return fmt.Errorf("write to kafka topic %s (ids %d..%d not acknowledged; checkpoint at %s): %w",
					cfg.Topic, ids[0], ids[len(ids)-1], lastIDText(cp), writeErr(err))
			}
			last := ids[len(ids)-1]
			cp.LastID, cp.Sent = &last, cp.Sent+int64(len(msgs))
			res.Sent += int64(len(msgs))
			if err := cp.Save(cfg.Checkpoint); err != nil {
				return err
			}
			if cfg.OnCheckpoint != nil {
				cfg.OnCheckpoint(*cp)
			}
			if cfg.Progress != nil {
				cfg.Progress.Advance(res.Sent, last)
			}
		}
		if len(p.ids) < cfg.Batch {
			return nil // the short page: the range is done
		}
	}
	// The reader stops early only when ctx ended.
	if err := ctx.Err(); err != nil {
		return interrupted(cp, err)
	}
	return errors.New("the reader stopped before the end of the range")
}

func lastIDText(cp *Checkpoint) string {
	if cp.LastID == nil {
		return "the start"
	}
	return fmt.Sprintf("id %d", *cp.LastID)
}

func interrupted(cp *Checkpoint, err error) error {
	return fmt.Errorf("interrupted with the checkpoint at %s (continue with --resume): %w", lastIDText(cp), err)
}

// writeErr makes kafka-go's per-message errors one readable error.
func writeErr(err error) error {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil {
				return fmt.Errorf("%d of %d records failed, first: %w", we.Count(), len(we), e)
			}
		}
	}
	return err
}

// pacer spaces writes so that n records take n/rate seconds.
type pacer struct {
	rate  float64
	start time.Time
	n     int64
}

func (p *pacer) wait(ctx context.Context, n int) error {
	if p.rate <= 0 {
		return nil
	}
	due := p.start.Add(time.Duration(float64(p.n) / p.rate * float64(time.Second)))
	p.n += int64(n)
	d := time.Until(due)
	if d < -time.Second {
		// Far behind (a slow broker): do not burst to catch up.
		p.start = p.start.Add(-d - time.Second)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newWriter is the kafka-go writer of the records (kafkax's: RequiredAcks
// all, Murmur2 on the key), after making sure the topic exists with the
// broker's default partitions and replication. A broker that refuses the
// topic, or cannot be asked, is logged: auto-creation, or the first write's
// clear error, says the rest.
func newWriter(ctx context.Context, cfg *Config) *kafka.Writer {
	if err := kafkax.EnsureTopics(ctx, cfg.Brokers, cfg.Logger, kafkax.Topic(cfg.Topic, -1, "")); err != nil {
		cfg.Logger.Warn("create topic (it may need to be created by hand)", zap.String("topic", cfg.Topic), zap.Error(err))
	}
	w := kafkax.NewWriter(cfg.Brokers)
	// Writes are pages (or a rate's chunks) of one topic: a whole chunk per
	// request, a short linger, and more attempts, since a failed write
	// stops the run.
	w.Topic, w.BatchSize, w.BatchTimeout, w.MaxAttempts = cfg.Topic, cfg.chunk(), 2*time.Millisecond, 5
	return w
}
