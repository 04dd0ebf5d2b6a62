package dlq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/kafkax"
)

// DefaultMaxScan bounds how many records List reads per partition looking
// for matches, so a filter that matches little on a large DLQ ends.
const DefaultMaxScan = 100_000

// ErrNotFound is returned by Get for a position that holds no record.
var ErrNotFound = errors.New("no such record")

// ErrNoTopic is returned when the DLQ topic does not exist (nothing was
// ever dead-lettered, or the name is wrong).
var ErrNoTopic = errors.New("topic does not exist")

// ReaderConfig configures a Reader. Brokers and Topic are required.
type ReaderConfig struct {
	Brokers []string
	Topic   string
	// MaxScan bounds the records read per partition by one List; 0 means
	// DefaultMaxScan.
	MaxScan int
	Logger  *zap.Logger
}

// Reader reads the DLQ topic: the latest records, or one by position. It
// holds no connection between calls; every call is bounded by its context.
type Reader struct {
	cfg       ReaderConfig
	readerLog *zap.Logger
	client    *kafka.Client
}

// NewReader checks cfg and returns a Reader.
func NewReader(cfg ReaderConfig) (*Reader, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, field.Refuse("Brokers", "no broker given")
	case cfg.Topic == "":
		return nil, field.Refuse("Topic", "must not be empty")
	case cfg.MaxScan < 0:
		return nil, field.Refuse("MaxScan", "must not be negative")
	}
	if cfg.MaxScan == 0 {
		cfg.MaxScan = DefaultMaxScan
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	// kafka-go's reader warns of what its closing cancels ("failed to read
	// lag ... context canceled") after every read; what matters reaches the
	// caller as an error (an unreachable broker fails the metadata request
	// first), so the reader's own warnings are dropped.
	readerLog := cfg.Logger.WithOptions(zap.IncreaseLevel(zap.ErrorLevel))
	return &Reader{cfg: cfg, readerLog: readerLog, client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second}}, nil
}

// Topic is the DLQ topic read.
func (r *Reader) Topic() string { return r.cfg.Topic }

func (r *Reader) readerCfg(partition int) kafka.ReaderConfig {
	return kafkax.PartitionReaderConfig(r.cfg.Brokers, r.cfg.Topic, partition, 0, r.readerLog.With(zap.Int("partition", partition)))
}

// partRange is a partition's readable offsets, [first, end).
type partRange struct {
	partition  int
	first, end int64
}

// ranges returns every partition's readable offsets.
func (r *Reader) ranges(ctx context.Context) ([]partRange, error) {
	md, err := r.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{r.cfg.Topic}})
	if err != nil {
		return nil, r.wrap("metadata", err)
	}
	var req []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Name != r.cfg.Topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("dlq topic %s: %w", r.cfg.Topic, ErrNoTopic)
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", r.cfg.Topic, t.Error)
		}
		for _, p := range t.Partitions {
			req = append(req, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(req) == 0 {
		return nil, fmt.Errorf("dlq topic %s: %w", r.cfg.Topic, ErrNoTopic)
	}
	res, err := r.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{r.cfg.Topic: req}})
	if err != nil {
		return nil, r.wrap("offsets", err)
	}
	var out []partRange
	for _, p := range res.Topics[r.cfg.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("offsets of %s/%d: %w", r.cfg.Topic, p.Partition, p.Error)
		}
		out = append(out, partRange{partition: p.Partition, first: p.FirstOffset, end: p.LastOffset})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].partition < out[j].partition })
	return out, nil
}

func (r *Reader) wrap(what string, err error) error {
	if ue, ok := kafkax.AsUnreachable(r.cfg.Brokers, err); ok {
		return ue
	}
	return fmt.Errorf("%s of %s: %w", what, r.cfg.Topic, err)
}

// List returns the latest limit entries f selects, newest first across
// partitions (by When, then partition and offset). Each partition is read
// backwards in growing windows until it has given limit matches, reached
// its first offset or MaxScan records; so an unfiltered List reads about
// limit records per partition. limit < 1 means every match within MaxScan.
func (r *Reader) List(ctx context.Context, f Filter, limit int) ([]Entry, error) {
	parts, err := r.ranges(ctx)
	if err != nil {
		return nil, err
	}
	// Partitions are read at once: each read waits on its own fetches
	// (~200 ms for a first fetch), which would add up one after another.
	got := make([][]Entry, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() { got[i], errs[i] = r.scan(ctx, p, f, limit) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first: errors stay one line
		}
	}
	var all []Entry
	for _, g := range got {
		all = append(all, g...)
	}
	sort.SliceStable(all, func(i, j int) bool { return newer(all[i], all[j]) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

func newer(a, b Entry) bool {
	if ta, tb := a.When(), b.When(); !ta.Equal(tb) {
		return ta.After(tb)
	}
	if a.Partition != b.Partition {
		return a.Partition < b.Partition
	}
	return a.Offset > b.Offset
}

// scan reads partition p backwards for the latest limit matches of f.
func (r *Reader) scan(ctx context.Context, p partRange, f Filter, limit int) ([]Entry, error) {
	if p.end <= p.first {
		return nil, nil
	}
	rd := kafka.NewReader(r.readerCfg(p.partition))
	defer rd.Close()
	var out []Entry // newest first
	window := int64(max(limit, 64))
	scanned := int64(0)
	for hi := p.end; hi > p.first && scanned < int64(r.cfg.MaxScan) && (limit < 1 || len(out) < limit); window *= 2 {
		lo := max(p.first, hi-window, hi-(int64(r.cfg.MaxScan)-scanned))
		var found []Entry
		err := readRange(ctx, rd, lo, hi, func(m kafka.Message) {
			if e := Parse(m); f.Match(e) {
				found = append(found, e)
			}
		})
		if err != nil {
			return nil, r.wrap(fmt.Sprintf("read partition %d", p.partition), err)
		}
		for i := len(found) - 1; i >= 0; i-- {
			out = append(out, found[i])
		}
		scanned += hi - lo
		hi = lo
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// readRange calls fn with every record of [lo, hi) the reader finds. It
// stops at hi or at the high watermark, whichever comes first.
func readRange(ctx context.Context, rd *kafka.Reader, lo, hi int64, fn func(kafka.Message)) error {
	if err := rd.SetOffset(lo); err != nil {
		return fmt.Errorf("seek to %d: %w", lo, err)
	}
	for {
		m, err := rd.FetchMessage(ctx)
		if err != nil {
			return err
		}
		if m.Offset >= hi {
			return nil
		}
		fn(m)
		if m.Offset >= hi-1 || m.Offset+1 >= m.HighWaterMark {
			return nil
		}
	}
}

// Get returns the entry at partition/offset; the error wraps ErrNotFound
// when the partition has no record there.
func (r *Reader) Get(ctx context.Context, partition int, offset int64) (Entry, error) {
	parts, err := r.ranges(ctx)
	if err != nil {
		return Entry{}, err
	}
	for _, p := range parts {
		if p.partition != partition {
			continue
		}
		if offset < p.first || offset >= p.end {
			return Entry{}, fmt.Errorf("%s partition %d holds offsets %d to %d, not %d: %w", r.cfg.Topic, partition, p.first, p.end-1, offset, ErrNotFound)
		}
		rd := kafka.NewReader(r.readerCfg(partition))
		defer rd.Close()
		var e *Entry
		if err := readRange(ctx, rd, offset, offset+1, func(m kafka.Message) { x := Parse(m); e = &x }); err != nil {
			return Entry{}, r.wrap(fmt.Sprintf("read %d/%d", partition, offset), err)
		}
		if e == nil || e.Offset != offset {
			return Entry{}, fmt.Errorf("%s %d/%d: %w", r.cfg.Topic, partition, offset, ErrNotFound)
		}
		return *e, nil
	}
	return Entry{}, fmt.Errorf("%s has no partition %d: %w", r.cfg.Topic, partition, ErrNotFound)
}
