package enricher

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/schemas"
	"github.com/thmanyah/enricher/store"
)

// The hot-path benchmarks measure one event through decode, as-of lookup,
// derive and encode on one goroutine, the per-event work of process and
// appendOutput without Kafka, metrics or logging. One b.Loop iteration is one
// event, so ns/op and allocs/op are per event.

const (
	hpRows     = 100_000
	hpVersions = 3
	hpEvents   = 10_000
	hpStep     = 3_600_000 // ms between a row's versions
)

// hpTs0 is when the first versions become valid; events fall in the hour
// before it (served by the oldest version) up to an hour after the last one.
var hpTs0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

type hpEvent struct{ key, value []byte }

type hpFixture struct {
	st       *store.Store
	dec      *debezium.Decoder
	enc      *schemas.Encoder
	plain    []hpEvent // the contract's plain JSON event
	debezium []hpEvent // Debezium change event, JsonConverter without schemas
}

// newHotPath builds a warm store of hpRows rows with hpVersions versions each
// and hpEvents events per form about random rows at random times.
func newHotPath(b *testing.B) *hpFixture {
	b.Helper()
	st, err := store.Open(store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := st.Close(); err != nil {
			b.Errorf("close store: %v", err)
		}
	})
	r := rand.New(rand.NewPCG(7, 11))
	ids := make([]uuid.UUID, hpRows)
	for i := range ids {
		for j := range ids[i] {
			ids[i][j] = byte(r.Uint32())
		}
	}
	types := [...]string{"podcast", "newsletter", "video"}
	tp := store.TopicPartition{Topic: "thmanyah.public.content"}
	var batch store.Batch
	var seq int64
	for v := range hpVersions {
		for i, id := range ids {
			seq++
			batch.Put(store.Change{ID: id, Row: store.Row{
				Slug:          fmt.Sprintf("episode-%d", i),
				Title:         fmt.Sprintf("Episode %d, version %d", i, v),
				ContentType:   sql.NullString{String: types[(i+v)%3], Valid: true},
				LengthSeconds: sql.NullInt32{Int32: int32(600 + (i*7+v*131)%3000), Valid: true},
				PublishMicros: int64(i) * 1e9,
			}, Source: store.Source{Topic: tp.Topic, Offset: seq - 1, LSN: seq, TsMs: hpTs0 + int64(v)*hpStep + int64(i%1000)}})
			if batch.Len() == 1000 {
				batch.Advance(tp, seq)
				if _, err := st.Apply(&batch); err != nil {
					b.Fatal(err)
				}
				batch.Reset()
			}
		}
	}
	if st.Len() != hpRows {
		b.Fatalf("store holds %d rows, want %d", st.Len(), hpRows)
	}

	f := &hpFixture{st: st, dec: debezium.NewDecoder(nil), enc: nil}
	if f.enc, err = schemas.NewEncoder(1, schemas.FramingConfluent); err != nil {
		b.Fatal(err)
	}
	eventTypes := [...]string{"play", "pause", "finish", "click"}
	devices := [...]string{"ios", "android", "web"}
	for n := range hpEvents {
		id := int64(1_000_000 + n)
		content := ids[r.IntN(hpRows)]
		user := uuid.UUID{}
		for j := range user {
			user[j] = byte(r.Uint32())
		}
		ts := time.UnixMilli(hpTs0 - hpStep + r.Int64N((hpVersions+1)*hpStep)).UTC()
		et, dev := eventTypes[r.IntN(len(eventTypes))], devices[r.IntN(len(devices))]
		dur := r.IntN(3_600_000)
		key := []byte(strconv.FormatInt(id, 10))
		f.plain = append(f.plain, hpEvent{key, fmt.Appendf(nil,
			`{"id":%d,"content_id":"%s","user_id":"%s","event_type":"%s","event_ts":"%s","duration_ms":%d,"device":"%s","raw_payload":{"source":"home_feed","position_ms":%d}}`,
			id, content, user, et, ts.Truncate(time.Second).Format(time.RFC3339), dur, dev, dur/2)})
		// The shape of fixture engagement-create-jsonb.plain: JSONB arrives as
		// JSON text in a string, timestamps in microseconds.
		srcMs := ts.UnixMilli() + 120
		f.debezium = append(f.debezium, hpEvent{fmt.Appendf(nil, `{"id":%d}`, id), fmt.Appendf(nil,
			`{"before":null,"after":{"id":%d,"content_id":"%s","user_id":"%s","event_type":"%s","event_ts":"%s","duration_ms":%d,"device":"%s","raw_payload":"{\"network\": \"cellular\", \"completed\": true, \"position_ms\": %d}"},`+
				`"source":{"version":"2.7.4.Final","connector":"postgresql","name":"thmanyah","ts_ms":%d,"snapshot":"false","db":"thmanyah","sequence":"[\"62303640\",\"62303920\"]","ts_us":%d,"ts_ns":%d,"schema":"public","table":"engagement_events","txId":%d,"lsn":%d,"xmin":null},`+
				`"transaction":null,"op":"c","ts_ms":%d,"ts_us":%d,"ts_ns":%d}`,
			id, content, user, et, ts.Format("2006-01-02T15:04:05.000000Z07:00"), dur, dev, dur/2,
			srcMs, srcMs*1000+204, srcMs*1_000_000+204_000, 918448+n, 62303920+n*64,
			srcMs+200, (srcMs+200)*1000+306, (srcMs+200)*1_000_000+306_129)})
	}
	return f
}

// hpState is what one goroutine reuses across events, as Processor does.
type hpState struct {
	f   *hpFixture
	buf []byte
}

// event runs one event through the hot path; it returns the encoded size.
func (s *hpState) event(ctx context.Context, e hpEvent) (int, error) {
	ev, err := s.f.dec.Engagement(ctx, e.key, e.value)
	if err != nil {
		return 0, err
	}
	in := &ev.Event
	look, found := s.f.st.AsOf(in.ContentID.UUID, in.EventTs.UnixMilli())
	// As appendOutput builds it.
	o := schemas.Output{
		EventID:    in.ID,
		UserID:     in.UserID,
		EventType:  in.EventType,
		EventTs:    in.EventTs,
		DurationMs: in.DurationMs,
		Device:     in.Device,
	}
	if in.ContentID.Valid {
		o.ContentID = sql.NullString{String: in.ContentID.UUID.String(), Valid: true}
	}
	o.EngagementSeconds = EngagementSeconds(in.DurationMs)
	if found {
		o.ContentType = look.ContentType
		o.LengthSeconds = look.LengthSeconds
		o.EngagementPct = EngagementPct(in.DurationMs, look.LengthSeconds)
	}
	if len(s.buf) > 1<<20 { // the batch arena is reset per batch
		s.buf = s.buf[:0]
	}
	n := len(s.buf)
	if s.buf, err = s.f.enc.Append(s.buf, &o); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("event %d: content %s not found", in.ID, in.ContentID.UUID)
	}
	return len(s.buf) - n, nil
}

func perEvent(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}

func BenchmarkHotPath(b *testing.B) {
	f := newHotPath(b)
	ctx := context.Background()
	for _, form := range []struct {
		name   string
		events []hpEvent
	}{{"plain", f.plain}, {"debezium-json", f.debezium}} {
		b.Run(form.name, func(b *testing.B) {
			s := &hpState{f: f, buf: make([]byte, 0, 2<<20)}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := s.event(ctx, form.events[i%len(form.events)]); err != nil {
					b.Fatal(err)
				}
			}
			perEvent(b)
		})
	}

	// Each stage alone, over the same events, to show where the time goes.
	decoded := make([]debezium.EngagementEvent, len(f.plain))
	outs := make([]schemas.Output, len(f.plain))
	for i, e := range f.plain {
		var err error
		if decoded[i], err = f.dec.Engagement(ctx, e.key, e.value); err != nil {
			b.Fatal(err)
		}
		in := &decoded[i].Event
		look, _ := f.st.AsOf(in.ContentID.UUID, in.EventTs.UnixMilli())
		outs[i] = schemas.Output{EventID: in.ID, UserID: in.UserID, EventType: in.EventType, EventTs: in.EventTs,
			DurationMs: in.DurationMs, Device: in.Device, ContentType: look.ContentType, LengthSeconds: look.LengthSeconds,
			ContentID:         sql.NullString{String: in.ContentID.UUID.String(), Valid: true},
			EngagementSeconds: EngagementSeconds(in.DurationMs), EngagementPct: EngagementPct(in.DurationMs, look.LengthSeconds)}
	}
	for _, form := range []struct {
		name   string
		events []hpEvent
	}{{"decode-plain", f.plain}, {"decode-debezium-json", f.debezium}} {
		b.Run("stage="+form.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e := form.events[i%len(form.events)]
				if _, err := f.dec.Engagement(ctx, e.key, e.value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("stage=asof", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			in := &decoded[i%len(decoded)].Event
			if _, ok := f.st.AsOf(in.ContentID.UUID, in.EventTs.UnixMilli()); !ok {
				b.Fatal("row missing")
			}
		}
	})
	b.Run("stage=derive", func(b *testing.B) {
		b.ReportAllocs()
		var sum float64
		for i := 0; b.Loop(); i++ {
			o := &outs[i%len(outs)]
			sum += EngagementSeconds(o.DurationMs).Float64 + EngagementPct(o.DurationMs, o.LengthSeconds).Float64
		}
		_ = sum
	})
	b.Run("stage=content-id-string", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_ = decoded[i%len(decoded)].Event.ContentID.UUID.String()
		}
	})
	b.Run("stage=encode", func(b *testing.B) {
		buf := make([]byte, 0, 256)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var err error
			if buf, err = f.enc.Append(buf[:0], &outs[i%len(outs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
