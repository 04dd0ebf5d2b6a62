package backfill

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.uber.org/zap"
)

// Progress is told how a run goes. Its methods are called from one goroutine.
type Progress interface {
	// Start is called once the total is known (estimated: a planner estimate).
	Start(total int64, estimated bool)
	// Advance is called after each acknowledged write with the records
	// acknowledged so far in this run and the last id among them.
	Advance(sent, lastID int64)
	// Finish is called at the end, with the run's error (nil: complete).
	Finish(err error)
}

// NewBar returns a Progress drawing a bar with count, rate and ETA on w,
// which should be a terminal.
func NewBar(w io.Writer) Progress { return &bar{w: w} }

type bar struct {
	w         io.Writer
	pb        *progressbar.ProgressBar
	estimated bool
	sent      int64
}

func (b *bar) Start(total int64, estimated bool) {
	desc := "backfill"
	if estimated {
		desc = "backfill (total estimated)"
	}
	b.estimated = estimated
	b.pb = progressbar.NewOptions64(max(total, 1),
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
}

func (b *bar) Advance(sent, _ int64) {
	if sent > b.pb.GetMax64() {
		b.pb.ChangeMax64(sent) // the estimate was low
	}
	_ = b.pb.Add64(sent - b.sent)
	b.sent = sent
}

func (b *bar) Finish(err error) {
	if b.pb == nil {
		return
	}
	if err != nil {
		_ = b.pb.Exit() // keeps the bar where it stopped; the error follows on its own line
		return
	}
	b.pb.ChangeMax64(max(b.sent, 1))
	_ = b.pb.Finish()
}

// NewLogProgress returns a Progress logging a line at most every interval
// (and at the start and end): for output that is not a terminal.
func NewLogProgress(log *zap.Logger, interval time.Duration) Progress {
	return &logProgress{log: log, every: interval}
}

type logProgress struct {
	log        *zap.Logger
	every      time.Duration
	start, at  time.Time
	total      int64
	estimated  bool
	sent, last int64
}

func (l *logProgress) Start(total int64, estimated bool) {
	l.start, l.at, l.total, l.estimated = time.Now(), time.Now(), total, estimated
	l.log.Info("backfill progress", zap.Int64("sent", 0), zap.Int64("total", total), zap.Bool("total_estimated", estimated))
}

func (l *logProgress) Advance(sent, lastID int64) {
	l.sent, l.last = sent, lastID
	if now := time.Now(); now.Sub(l.at) >= l.every {
		l.at = now
		l.line("backfill progress")
	}
}

func (l *logProgress) Finish(err error) {
	if err == nil {
		l.line("backfill progress: complete")
	}
}

func (l *logProgress) line(msg string) {
	el := time.Since(l.start)
	rate := float64(l.sent) / max(el.Seconds(), 1e-9)
	fields := []zap.Field{zap.Int64("sent", l.sent), zap.Int64("total", l.total), zap.Bool("total_estimated", l.estimated),
		zap.Int64("last_id", l.last), zap.Float64("events_per_second", float64(int64(rate*10))/10), zap.Duration("elapsed", el.Round(time.Millisecond))}
	if l.total > 0 {
		fields = append(fields, zap.Float64("percent", float64(int64(float64(l.sent)*1000/float64(l.total)))/10))
	}
	if left := l.total - l.sent; left > 0 && rate > 0 {
		fields = append(fields, zap.Duration("eta", time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second)))
	}
	l.log.Info(msg, fields...)
}
