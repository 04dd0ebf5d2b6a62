package dlq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/kafkax"
)

// DefaultReplayBatch is how many records a replay writes per acknowledged
// batch (and checkpoint save).
const DefaultReplayBatch = 100

// ReplayConfig configures Replay.
type ReplayConfig struct {
	Brokers []string
	Topic   string // the DLQ topic

	// One selects the single record at Partition/Offset; otherwise Filter
	// and Limit select (the latest Limit matches; < 1: every match within
	// the reader's scan bound). A Filter that selects everything is refused
	// unless All is set, so a bare replay never redrives a whole DLQ by mistake.
	One       bool
	Partition int
	Offset    int64
	Filter    Filter
	Limit     int
	All       bool

	// To, when set, is where records go instead of their dlq.source.topic.
	To string
	// MaxReplays: a record replayed this many times already is skipped.
	MaxReplays int
	// Force sends what MaxReplays and foreignness would skip.
	Force bool
	// DryRun plans and sends nothing (the checkpoint is read, not written).
	DryRun bool
	// Value, when ReplaceValue is set, replaces the record's value (One only).
	Value        []byte
	ReplaceValue bool
	// Checkpoint is the file of positions already replayed (required).
	Checkpoint string
	Batch      int // 0: DefaultReplayBatch
	// Progress, when set, hears of every acknowledged batch.
	Progress Progress
	Logger   *zap.Logger
}

func (c *ReplayConfig) check() error {
	switch {
	case len(c.Brokers) == 0:
		return field.Refuse("Brokers", "no broker given")
	case c.Topic == "":
		return field.Refuse("Topic", "must not be empty")
	case c.To == c.Topic:
		return field.Refuse("To", "is the DLQ topic itself")
	case c.MaxReplays < 1:
		return field.Refuse("MaxReplays", "must be at least 1 (--force sends regardless)")
	case c.Checkpoint == "":
		return field.Refuse("Checkpoint", "must not be empty")
	case c.Batch < 0:
		return field.Refuse("Batch", "must not be negative")
	case c.One && c.Partition < 0:
		return field.Refuse("Partition", "must not be negative")
	case c.One && c.Offset < 0:
		return field.Refuse("Offset", "must not be negative")
	case c.ReplaceValue && !c.One:
		return field.Refuse("Value", "replaces the value of one record: select it by partition and offset")
	case !c.One && c.Filter.Empty() && !c.All:
		return errors.New("no record selected: give --partition and --offset, a filter (--stage, --reason, --source-topic, --since, --until), or --all")
	}
	if err := c.Filter.Check(); err != nil {
		return field.Refuse("Filter", err.Error())
	}
	if c.Batch == 0 {
		c.Batch = DefaultReplayBatch
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// Planned is what Replay did or would do with one selected record.
type Planned struct {
	Entry Entry
	// Target is the topic it goes (or went) to; "" when skipped for having none.
	Target string
	// Skip is why it is not sent; "" when it is.
	Skip string
	// Sent is set once the broker acknowledged it.
	Sent bool
}

// Result is a replay's outcome.
type Result struct {
	Records []Planned // oldest first, the order they are sent in
	Sent    int
	Skipped int
	DryRun  bool
	Elapsed time.Duration
}

// Progress is told how a replay goes, from one goroutine.
type Progress interface {
	Start(total int)
	Advance(sent int)
	Finish(err error)
}

// Replay sends the selected DLQ records back: to their source topic (or
// To), with their key, their value (or Value) and their original headers
// plus dlq.replay.count and dlq.replay.from. Records in the checkpoint,
// foreign ones and those replayed MaxReplays times are skipped (the last two
// unless Force). Batches are written with acks from every in-sync replica;
// the checkpoint is saved after each acknowledged batch, so a replay run
// again, or after a crash, sends nothing twice but the batch in flight.
func Replay(ctx context.Context, cfg ReplayConfig) (Result, error) {
	start := time.Now()
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	cp, err := LoadCheckpoint(cfg.Checkpoint, cfg.Topic)
	if err != nil {
		return Result{}, err
	}
	rd, err := NewReader(ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.Topic, Logger: cfg.Logger})
	if err != nil {
		return Result{}, err
	}
	var entries []Entry
	if cfg.One {
		e, err := rd.Get(ctx, cfg.Partition, cfg.Offset)
		if err != nil {
			return Result{}, err
		}
		entries = []Entry{e}
	} else if entries, err = rd.List(ctx, cfg.Filter, cfg.Limit); err != nil {
		return Result{}, err
	}
	// Oldest first: the source topic gets them in the order they failed.
	sort.SliceStable(entries, func(i, j int) bool { return newer(entries[j], entries[i]) })

	res := Result{DryRun: cfg.DryRun, Records: make([]Planned, len(entries))}
	var send []int
	for i, e := range entries {
		p := Planned{Entry: e, Target: cfg.To}
		if p.Target == "" {
			p.Target = e.Source.Topic
		}
		switch {
		case cp.Has(e.Partition, e.Offset):
			p.Skip = "already replayed (in checkpoint " + cfg.Checkpoint + ")"
		case e.Foreign && !cfg.Force:
			p.Skip = "foreign record (" + e.ForeignWhy + "); --force to send it"
		case e.Replays >= cfg.MaxReplays && !cfg.Force:
			p.Skip = fmt.Sprintf("replayed %d time(s) already (--max-replays %d); --force to send it again", e.Replays, cfg.MaxReplays)
		case p.Target == "":
			p.Skip = "no source topic to send it to; give --to"
		case p.Target == cfg.Topic:
			p.Skip = "its source topic is the DLQ topic itself; give --to"
		}
		if cfg.ReplaceValue {
			p.Entry.Value = cfg.Value
		}
		if p.Skip != "" {
			res.Skipped++
		} else {
			send = append(send, i)
		}
		res.Records[i] = p
	}
	if cfg.DryRun {
		res.Elapsed = time.Since(start)
		return res, nil
	}
	if cfg.Progress != nil {
		cfg.Progress.Start(len(send))
	}
	err = sendAll(ctx, &cfg, cp, &res, send)
	if cfg.Progress != nil {
		cfg.Progress.Finish(err)
	}
	res.Elapsed = time.Since(start)
	return res, err
}

// sendAll writes the records res.Records[send...] in batches, marking each
// acknowledged record in cp and saving it after every batch.
func sendAll(ctx context.Context, cfg *ReplayConfig, cp *Checkpoint, res *Result, send []int) error {
	if len(send) == 0 {
		return nil
	}
	w := kafkax.NewWriter(cfg.Brokers)
	defer func() { _ = w.Close() }()
	for len(send) > 0 {
		n := min(len(send), cfg.Batch)
		batch := send[:n]
		send = send[n:]
		msgs := make([]kafka.Message, len(batch))
		for j, i := range batch {
			msgs[j] = replayMessage(cfg.Topic, res.Records[i])
		}
		err := w.WriteMessages(ctx, msgs...)
		var werrs kafka.WriteErrors
		partial := errors.As(err, &werrs) && len(werrs) == len(msgs)
		acked := 0
		for j, i := range batch {
			if err == nil || (partial && werrs[j] == nil) {
				p := &res.Records[i]
				p.Sent = true
				cp.mark(p.Entry.Partition, p.Entry.Offset)
				acked++
			}
		}
		res.Sent += acked
		if acked > 0 {
			if serr := cp.Save(cfg.Checkpoint); serr != nil {
				return fmt.Errorf("%d record(s) sent but not recorded (running again would send them twice): %w", acked, serr)
			}
		}
		if err != nil {
			if ue, ok := kafkax.AsUnreachable(cfg.Brokers, err); ok {
				err = ue
			}
			return fmt.Errorf("replay: write batch: %w (%d sent and checkpointed; run again to continue)", err, res.Sent)
		}
		if cfg.Progress != nil {
			cfg.Progress.Advance(res.Sent)
		}
		cfg.Logger.Debug("replay batch acknowledged", zap.Int("records", acked), zap.Int("sent", res.Sent))
	}
	return nil
}

// replayMessage is the record sent for p: the original key, value and
// headers, with the replay count and the DLQ position it came from.
func replayMessage(dlqTopic string, p Planned) kafka.Message {
	h := p.Entry.OriginalHeaders()
	h = append(h,
		kafka.Header{Key: HeaderReplayCount, Value: strconv.AppendInt(nil, int64(p.Entry.Replays+1), 10)},
		kafka.Header{Key: HeaderReplayFrom, Value: []byte(Position{Topic: dlqTopic, Partition: p.Entry.Partition, Offset: p.Entry.Offset}.String())},
	)
	return kafka.Message{Topic: p.Target, Key: p.Entry.Key, Value: p.Entry.Value, Headers: h}
}
