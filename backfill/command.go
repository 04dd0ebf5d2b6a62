package backfill

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"golang.org/x/term"
)

// LogEvery spaces the progress log lines RunCommand writes when stderr is
// not a terminal.
const LogEvery = 10 * time.Second

// CommandConfig is `enricher backfill` as given: its flags and environment
// variables, not yet checked. Brokers, Topic, Batch, Rate, Checkpoint and
// Resume mean what they mean in Config.
type CommandConfig struct {
	PGURL      string
	From, To   string // RFC 3339, or a date
	Brokers    []string
	Topic      string
	Batch      int
	Rate       float64
	Checkpoint string
	Resume     bool
	DryRun     bool
	// CountTimeout bounds the exact count; 0 means the estimate alone.
	CountTimeout time.Duration
	Logger       *zap.Logger
}

// RunCommand checks cfg, then counts (a dry run) or sends, and writes the
// outcome as one line to stdout: every error it returns is one line naming
// the flag or the thing to fix. Progress goes to stderr: a bar when stderr
// is a terminal, else log lines every LogEvery.
func RunCommand(ctx context.Context, cc CommandConfig, stdout, stderr io.Writer) error {
	cfg, err := cc.config()
	if err != nil {
		return err
	}
	if cc.DryRun {
		p, err := DryRun(ctx, cfg)
		if err != nil {
			return err
		}
		printPlan(stdout, cfg.Checkpoint, p)
		return nil
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.Progress = NewBar(f)
		// The bar says what info lines would; warnings still show.
		cfg.Logger = cfg.Logger.WithOptions(zap.IncreaseLevel(zap.WarnLevel))
	} else {
		cfg.Progress = NewLogProgress(cfg.Logger, LogEvery)
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	printResult(stdout, cfg.Checkpoint, res)
	return nil
}

// config checks the command's settings and returns the Config they make.
func (cc CommandConfig) config() (Config, error) {
	cfg := Config{PGURL: cc.PGURL, Brokers: cc.Brokers, Topic: cc.Topic, Batch: cc.Batch, Rate: cc.Rate,
		Checkpoint: cc.Checkpoint, Resume: cc.Resume, CountTimeout: cc.CountTimeout, Logger: cc.Logger}
	var err error
	if cfg.PGURL == "" {
		return cfg, flagError("pg-url", "PG_URL", "is required: the Postgres holding engagement_events")
	}
	if cfg.From, err = parseTimeFlag("from", "BACKFILL_FROM", cc.From); err != nil {
		return cfg, err
	}
	if cfg.To, err = parseTimeFlag("to", "BACKFILL_TO", cc.To); err != nil {
		return cfg, err
	}
	switch {
	case !cfg.From.Before(cfg.To):
		return cfg, fmt.Errorf("--from %s is not before --to %s: the range is [from, to) on event_ts", cc.From, cc.To)
	case cfg.Batch < 1 || cfg.Batch > MaxBatch:
		return cfg, flagError("batch", "BACKFILL_BATCH", fmt.Sprintf("%d is not between 1 and %d", cfg.Batch, MaxBatch))
	case cfg.Rate < 0:
		return cfg, flagError("rate", "BACKFILL_RATE", "must not be negative (0: unlimited)")
	case cc.CountTimeout < 0:
		return cfg, flagError("count-timeout", "BACKFILL_COUNT_TIMEOUT", "must not be negative (0: the estimate alone)")
	case cfg.Topic == "":
		return cfg, flagError("topic", "BACKFILL_TOPIC", "must not be empty")
	case !cc.DryRun && len(cfg.Brokers) == 0:
		return cfg, flagError("brokers", "KAFKA_BROKERS", "is required to send (or give --dry-run)")
	}
	if cc.CountTimeout == 0 {
		cfg.CountTimeout = -1 // Config's zero is the default
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return cfg, nil
}

// flagError names the flag and its variable, so the one-line error says
// what to fix (the same form as every command's).
func flagError(flag, env, problem string) error {
	return fmt.Errorf("--%s ($%s): %s", flag, env, problem)
}

func parseTimeFlag(flag, env, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, flagError(flag, env, "is required (RFC 3339, e.g. 2025-01-01T00:00:00Z)")
	}
	t, err := ParseTime(v)
	if err != nil {
		return time.Time{}, flagError(flag, env, err.Error())
	}
	return t, nil
}

func rangeText(p Plan) string {
	return fmt.Sprintf("event_ts in [%s, %s)", p.From.Format(time.RFC3339Nano), p.To.Format(time.RFC3339Nano))
}

func printPlan(w io.Writer, checkpoint string, p Plan) {
	after := ""
	if p.Resumed {
		after = fmt.Sprintf(", after id %d (checkpoint %s)", p.After, checkpoint)
	}
	switch {
	case p.Done:
		fmt.Fprintf(w, "backfill dry run: checkpoint %s says %s was sent completely; nothing to send\n", checkpoint, rangeText(p))
	case p.Count == 0:
		fmt.Fprintf(w, "backfill dry run: no events with %s%s; nothing to send\n", rangeText(p), after)
	default:
		fmt.Fprintf(w, "backfill dry run: would send %d events, ids %d to %d, with %s%s, to %s; nothing sent\n",
			p.Count, p.MinID, p.MaxID, rangeText(p), after, p.Topic)
	}
}

func printResult(w io.Writer, checkpoint string, r Result) {
	if r.Plan.Done {
		fmt.Fprintf(w, "backfill: checkpoint %s says %s was sent completely; nothing sent\n", checkpoint, rangeText(r.Plan))
		return
	}
	last := "none"
	if r.Checkpoint.LastID != nil {
		last = fmt.Sprint(*r.Checkpoint.LastID)
	}
	fmt.Fprintf(w, "backfill: sent %d events with %s to %s in %s (%.0f/s), last id %s; checkpoint %s\n",
		r.Sent, rangeText(r.Plan), r.Plan.Topic, r.Elapsed.Round(time.Millisecond),
		float64(r.Sent)/max(r.Elapsed.Seconds(), 1e-9), last, checkpoint)
}
