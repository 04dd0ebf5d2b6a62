package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/thmanyah/enricher/backfill"
)

// backfillLogEvery spaces the progress log lines written when stderr is not a terminal.
const backfillLogEvery = 10 * time.Second

func newBackfillCmd() *cobra.Command {
	var (
		cfg               backfill.Config
		from, to, brokers string
		dryRun            bool
		countTimeout      time.Duration
		logLevel          string
	)
	cmd := &cobra.Command{
		Use:   "backfill",
		Short: "Replay historical engagement_events from Postgres into Kafka for enrichment",
		Long: `backfill reads the engagement_events rows whose event_ts lies in [--from, --to)
from Postgres, in id order and --batch rows per query, and writes them as the
contract's plain JSON events (key: the event id) to --topic, which the service
enriches like live events, as of each event's time.

After every write Kafka acknowledged, the last id is saved to --checkpoint
(atomically). A run that stopped (Ctrl-C, a crash, Postgres or Kafka going
away) continues where it stopped with --resume and the same --from, --to and
--topic; only the write in flight is sent twice. --dry-run counts what would
be sent and sends nothing. See README-backfill.md.`,
		Example: `  enricher backfill --pg-url postgres://enricher@db:5432/thmanyah \
    --from 2025-01-01T00:00:00Z --to 2025-02-01T00:00:00Z --rate 2000 --brokers kafka:9092`,
		Args:    cobra.NoArgs,
		PreRunE: applyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.PGURL == "" {
				return flagError("pg-url", "PG_URL", "is required: the Postgres holding engagement_events")
			}
			if cfg.From, err = parseTimeFlag("from", "BACKFILL_FROM", from); err != nil {
				return err
			}
			if cfg.To, err = parseTimeFlag("to", "BACKFILL_TO", to); err != nil {
				return err
			}
			cfg.Brokers = splitList(brokers)
			switch {
			case !cfg.From.Before(cfg.To):
				return fmt.Errorf("--from %s is not before --to %s: the range is [from, to) on event_ts", from, to)
			case cfg.Batch < 1 || cfg.Batch > backfill.MaxBatch:
				return flagError("batch", "BACKFILL_BATCH", fmt.Sprintf("%d is not between 1 and %d", cfg.Batch, backfill.MaxBatch))
			case cfg.Rate < 0:
				return flagError("rate", "BACKFILL_RATE", "must not be negative (0: unlimited)")
			case countTimeout < 0:
				return flagError("count-timeout", "BACKFILL_COUNT_TIMEOUT", "must not be negative (0: the estimate alone)")
			case cfg.Topic == "":
				return flagError("topic", "BACKFILL_TOPIC", "must not be empty")
			case !dryRun && len(cfg.Brokers) == 0:
				return flagError("brokers", "KAFKA_BROKERS", "is required to send (or give --dry-run)")
			}
			cfg.CountTimeout = countTimeout
			if countTimeout == 0 {
				cfg.CountTimeout = -1 // Config's zero is the default
			}
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			cfg.Logger = log.Named("backfill")
			if dryRun {
				p, err := backfill.DryRun(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				printPlan(cmd.OutOrStdout(), cfg.Checkpoint, p)
				return nil
			}
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				cfg.Progress = backfill.NewBar(f)
				// The bar says what info lines would; warnings still show.
				cfg.Logger = cfg.Logger.WithOptions(zap.IncreaseLevel(zap.WarnLevel))
			} else {
				cfg.Progress = backfill.NewLogProgress(cfg.Logger, backfillLogEvery)
			}
			res, err := backfill.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), cfg.Checkpoint, res)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.PGURL, "pg-url", "", "source Postgres URL (postgres://user@host:5432/db)")
	fs.StringVar(&from, "from", "", "start of the range, inclusive, on event_ts (RFC 3339, e.g. 2025-01-01T00:00:00Z)")
	fs.StringVar(&to, "to", "", "end of the range, exclusive, on event_ts (RFC 3339)")
	fs.IntVar(&cfg.Batch, "batch", backfill.DefaultBatch, "rows per query (and per Kafka write)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "events per second at most (0: unlimited)")
	fs.StringVar(&cfg.Topic, "topic", backfill.DefaultTopic, "topic of the plain JSON events")
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cfg.Checkpoint, "checkpoint", backfill.DefaultCheckpoint, "checkpoint file: the last id Kafka acknowledged, the range and topic")
	fs.BoolVar(&cfg.Resume, "resume", false, "continue the run recorded in --checkpoint (same --from, --to, --topic)")
	fs.BoolVar(&dryRun, "dry-run", false, "count the events and the id range that would be sent; send nothing")
	fs.DurationVar(&countTimeout, "count-timeout", backfill.DefaultCountTimeout, "time allowed for the exact count(*) of the progress total; past it the planner's estimate (0: the estimate alone)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	for flag, env := range map[string]string{
		"pg-url": "PG_URL", "from": "BACKFILL_FROM", "to": "BACKFILL_TO", "batch": "BACKFILL_BATCH", "rate": "BACKFILL_RATE",
		"topic": "BACKFILL_TOPIC", "brokers": "KAFKA_BROKERS", "checkpoint": "BACKFILL_CHECKPOINT", "resume": "BACKFILL_RESUME",
		"dry-run": "BACKFILL_DRY_RUN", "count-timeout": "BACKFILL_COUNT_TIMEOUT", "log-level": "LOG_LEVEL",
	} {
		bindEnv(fs, flag, env)
	}
	return cmd
}

func parseTimeFlag(flag, env, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, flagError(flag, env, "is required (RFC 3339, e.g. 2025-01-01T00:00:00Z)")
	}
	t, err := backfill.ParseTime(v)
	if err != nil {
		return time.Time{}, flagError(flag, env, err.Error())
	}
	return t, nil
}

func rangeText(p backfill.Plan) string {
	return fmt.Sprintf("event_ts in [%s, %s)", p.From.Format(time.RFC3339Nano), p.To.Format(time.RFC3339Nano))
}

func printPlan(w io.Writer, checkpoint string, p backfill.Plan) {
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

func printResult(w io.Writer, checkpoint string, r backfill.Result) {
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
