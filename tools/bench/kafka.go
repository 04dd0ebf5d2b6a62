package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/internal/dbztest"
)

// admin wraps the kafka-go client the harness uses for topics and offsets,
// so it works against kfake and a real cluster alike.
type admin struct {
	cl *kafka.Client
}

func newAdmin(brokers []string) *admin {
	return &admin{cl: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}}
}

// create creates a topic; unlike kafkax.EnsureTopics, a broker refusing it
// is an error: the bench needs its topics as asked for.
func (a *admin) create(ctx context.Context, tc kafka.TopicConfig) error {
	res, err := a.cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", tc.Topic, err)
	}
	if e := res.Errors[tc.Topic]; e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", tc.Topic, e)
	}
	return nil
}

func (a *admin) remove(ctx context.Context, topic string) {
	_, _ = a.cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
}

// count is the sum of a topic's high watermarks.
func (a *admin) count(ctx context.Context, topic string, parts int) (int64, error) {
	req := make([]kafka.OffsetRequest, parts)
	for i := range req {
		req[i] = kafka.LastOffsetOf(i)
	}
	res, err := a.cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return 0, p.Error
		}
		n += p.LastOffset
	}
	return n, nil
}

// contentID is the id of the i-th generated content row.
func contentID(i int) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], 0xbe4c000000004000) // version 4 nibble
	binary.BigEndian.PutUint64(u[8:16], uint64(i)|0x8000000000000000)
	return u
}

func newProducer(brokers []string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ProducerBatchMaxBytes(4<<20), kgo.MaxBufferedRecords(200_000),
		kgo.ProducerLinger(time.Millisecond), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
}

// loadContent writes rows [from, to) of the content table as Debezium plain
// JSON snapshot records; their source time is an hour ago, so every event
// after it joins with them.
func loadContent(ctx context.Context, cl *kgo.Client, topic string, from, to int) error {
	w, err := dbztest.New()
	if err != nil {
		return err
	}
	ts := time.Now().Add(-time.Hour)
	typ := "podcast"
	length := int32(1800)
	for i := from; i < to; i++ {
		id := contentID(i)
		row := &dbztest.Content{ID: id, Slug: "episode-" + strconv.Itoa(i), Title: "Episode " + strconv.Itoa(i),
			ContentType: &typ, LengthSeconds: &length, PublishTS: ts.Add(-24 * time.Hour)}
		rec := &kgo.Record{Topic: topic, Key: w.Key(dbztest.FormPlain, id),
			Value: w.Change(dbztest.FormPlain, 'r', row, dbztest.Source{LSN: int64(1000 + i), TsMs: ts.UnixMilli(), TxID: int64(i)})}
		cl.Produce(ctx, rec, nil)
	}
	return cl.Flush(ctx)
}

type event struct {
	ID         int64          `json:"id"`
	UserID     string         `json:"user_id"`
	ContentID  string         `json:"content_id"`
	EventType  string         `json:"event_type"`
	EventTs    string         `json:"event_ts"`
	DurationMs int32          `json:"duration_ms"`
	Device     string         `json:"device"`
	RawPayload map[string]int `json:"raw_payload"`
}

// eventRecord is an engagement event in the contract's plain JSON, about one
// of the first rows content rows.
func eventRecord(topic string, id int64, rows int, rng *rand.Rand, at time.Time) *kgo.Record {
	ev := event{ID: id, UserID: contentID(int(rng.Uint32())).String(), ContentID: contentID(rng.IntN(rows)).String(),
		EventType: "play", EventTs: at.UTC().Format(time.RFC3339Nano), DurationMs: int32(rng.IntN(600_000)),
		Device: "ios", RawPayload: map[string]int{"k": 1}}
	b, _ := json.Marshal(ev)
	return &kgo.Record{Topic: topic, Key: strconv.AppendInt(nil, id, 10), Value: b}
}

// loadEvents writes n events with ids [first, first+n).
func loadEvents(ctx context.Context, cl *kgo.Client, topic string, first int64, n, rows int) error {
	rng := rand.New(rand.NewPCG(uint64(first), 7))
	now := time.Now()
	for i := range int64(n) {
		cl.Produce(ctx, eventRecord(topic, first+i, rows, rng, now), nil)
	}
	return cl.Flush(ctx)
}

// pace produces events at rate per second for d, stamping each with the time
// it is produced, and returns how many it produced.
func pace(ctx context.Context, cl *kgo.Client, topic string, first int64, rows int, rate float64, d time.Duration) (int64, error) {
	rng := rand.New(rand.NewPCG(uint64(first), 9))
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var n int64
	var mu sync.Mutex
	var failed error
	for {
		now := time.Now()
		el := now.Sub(start)
		if el >= d {
			break
		}
		for due := int64(el.Seconds() * rate); n < due; n++ {
			cl.Produce(ctx, eventRecord(topic, first+n, rows, rng, now), func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			})
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-tick.C:
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return n, err
	}
	mu.Lock()
	defer mu.Unlock()
	return n, failed
}
