package datagen

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/internal/kafkax"
)

// kafkaSink writes what Debezium would write for the content table and the
// contract's plain JSON engagement events.
type kafkaSink struct {
	w                         *kafka.Writer
	contentTopic, eventsTopic string
	prefix                    string
	nextID                    int64 // event ids: from the clock, so reruns do not collide
	lsn, commitLSN, txID      int64
	msgs                      []kafka.Message
}

const (
	dbzVersion = "2.7.4.Final"
	dbzDB      = "thmanyah" // database.dbname of the assumed deployment
	eventTS    = "2006-01-02T15:04:05.000Z"
)

func openKafka(ctx context.Context, cfg Config, log *zap.Logger) (*kafkaSink, error) {
	k := &kafkaSink{
		contentTopic: cfg.TopicPrefix + ".public.content",
		eventsTopic:  cfg.EventsTopic,
		prefix:       cfg.TopicPrefix,
		nextID:       time.Now().UnixMilli() * 1000,
		txID:         time.Now().Unix() % 1_000_000_000,
	}
	// The broker's default partitions and replication; the content topic
	// compacted like Debezium's.
	if err := kafkax.EnsureTopics(ctx, cfg.Brokers, log, kafkax.Topic(k.contentTopic, -1, "compact"),
		kafkax.Topic(k.eventsTopic, -1, "delete")); err != nil {
		return nil, fmt.Errorf("datagen: %w", err) // it names the brokers when none answered
	}
	k.w = kafkax.NewWriter(cfg.Brokers)
	// A paced generator writes whole ticks at once: up to 5000 records in
	// one request, a few milliseconds' linger to gather them, and topics a
	// broker refused to create are left to auto-creation.
	k.w.BatchSize, k.w.BatchTimeout = 5000, 5*time.Millisecond
	k.w.AllowAutoTopicCreation = true
	return k, nil
}

func (k *kafkaSink) close() { _ = k.w.Close() }

func (k *kafkaSink) load(context.Context) ([]row, error) { return nil, nil }

func (k *kafkaSink) writeContent(ctx context.Context, cs []change, now time.Time) error {
	k.msgs = k.msgs[:0]
	for _, c := range cs {
		key := []byte(`{"id":"` + c.Row.ID.String() + `"}`)
		value, err := k.envelope(c, now)
		if err != nil {
			return err
		}
		k.msgs = append(k.msgs, kafka.Message{Topic: k.contentTopic, Key: key, Value: value, Time: now})
		if c.Op == opDelete { // tombstones.on.delete=true
			k.msgs = append(k.msgs, kafka.Message{Topic: k.contentTopic, Key: key, Time: now})
		}
	}
	return k.w.WriteMessages(ctx, k.msgs...)
}

// envelope is the JsonConverter (schemas.enable=false) value Debezium
// writes for one change under REPLICA IDENTITY DEFAULT: updates have no
// before image, deletes a before image with only the key real. Each change
// is its own transaction; LSNs are multiples of 8 that grow and stay above
// the clock (µs × 8), so a rerun's changes order after an earlier run's.
func (k *kafkaSink) envelope(c change, now time.Time) ([]byte, error) {
	us := now.UnixMicro()
	k.txID++
	k.commitLSN = k.lsn
	k.lsn = max(k.lsn+8*(40+int64(len(c.Row.Title))/8), us*8)
	seq := `[null,"` + strconv.FormatInt(k.lsn, 10) + `"]`
	if k.commitLSN != 0 {
		seq = `["` + strconv.FormatInt(k.commitLSN, 10) + `","` + strconv.FormatInt(k.lsn, 10) + `"]`
	}
	emitted := time.Now()
	env := debezium.ContentEnvelopeJSON{
		Source: debezium.SourceJSON{Version: dbzVersion, Connector: "postgresql", Name: k.prefix, TsMs: us / 1000,
			Snapshot: "false", DB: dbzDB, Sequence: seq, TsUs: us, TsNs: us * 1000, Schema: "public",
			Table: "content", TxID: k.txID, LSN: k.lsn},
		Op:   string(rune(c.Op)),
		TsMs: emitted.UnixMilli(), TsUs: emitted.UnixMicro(), TsNs: emitted.UnixNano(),
	}
	r := &debezium.ContentRowJSON{ID: c.Row.ID.String(), Slug: c.Row.Slug, Title: c.Row.Title,
		PublishTS: c.Row.PublishTS.UTC().Format(debezium.ZonedTimestampLayout)}
	if c.Row.Type.Valid {
		r.ContentType = &c.Row.Type.String
	}
	if c.Row.Length.Valid {
		r.LengthSeconds = &c.Row.Length.Int32
	}
	if c.Op == opDelete {
		env.Before = &debezium.ContentRowJSON{ID: r.ID, PublishTS: "1970-01-01T00:00:00Z"} // converter fallbacks
	} else {
		env.After = r
	}
	return debezium.MarshalJSON(env)
}

func (k *kafkaSink) writeEvents(ctx context.Context, evs []event, now time.Time) error {
	k.msgs = k.msgs[:0]
	for _, e := range evs {
		id := k.nextID
		k.nextID++
		k.msgs = append(k.msgs, kafka.Message{Topic: k.eventsTopic, Key: strconv.AppendInt(nil, id, 10),
			Value: appendEvent(make([]byte, 0, 320), id, e, now), Time: now})
	}
	return k.w.WriteMessages(ctx, k.msgs...)
}

// appendEvent writes the contract's plain JSON event. Every string in it
// is a UUID, a fixed name or an RFC 3339 time, so none needs escaping.
func appendEvent(b []byte, id int64, e event, now time.Time) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"content_id":"`...)
	b = append(b, e.ContentID.String()...)
	b = append(b, `","user_id":"`...)
	b = append(b, e.UserID.String()...)
	b = append(b, `","event_type":"`...)
	b = append(b, e.Type...)
	b = append(b, `","event_ts":"`...)
	b = now.Add(-e.Lag).UTC().AppendFormat(b, eventTS)
	b = append(b, `","duration_ms":`...)
	if e.Duration.Valid {
		b = strconv.AppendInt(b, int64(e.Duration.Int32), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"device":"`...)
	b = append(b, e.Device...)
	b = append(b, `","raw_payload":`...)
	b = append(b, e.Payload...)
	return append(b, '}')
}
