package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/schemas"
)

const (
	eventsTopic   = "thmanyah.public.engagement_events"
	backfillTopic = "engagement_events.backfill"
	outputTopic   = "processed_engagements"
)

// enriched is an output record rendered for comparison: NULL is "NULL".
type enriched struct {
	key, contentType, length, secs, pct string
	eventTs                             time.Time
	headers                             map[string]string
}

func (e enriched) String() string {
	return fmt.Sprintf("key=%s type=%s len=%s secs=%s pct=%s", e.key, e.contentType, e.length, e.secs, e.pct)
}

// decoder decodes what the service wrote, with the framing it must use.
type outputDecoder struct {
	t        *testing.T
	codec    *goavro.Codec
	registry *srfake.Registry // nil: single-object framing
}

func newOutputDecoder(t *testing.T, reg *srfake.Registry) *outputDecoder {
	c, err := goavro.NewCodec(schemas.ProcessedEngagement())
	if err != nil {
		t.Fatal(err)
	}
	return &outputDecoder{t: t, codec: c, registry: reg}
}

func (d *outputDecoder) decode(r *kgo.Record) enriched {
	d.t.Helper()
	v := r.Value
	if d.registry == nil {
		canon, err := schemas.CanonicalForm(schemas.ProcessedEngagement())
		if err != nil {
			d.t.Fatal(err)
		}
		if len(v) < 10 || v[0] != 0xC3 || v[1] != 0x01 || binary.LittleEndian.Uint64(v[2:10]) != schemas.Fingerprint64([]byte(canon)) {
			d.t.Fatalf("record %s: not single-object framed with the spec's fingerprint: % x", r.Key, v[:min(len(v), 10)])
		}
		v = v[10:]
	} else {
		ss, ok := d.registry.GetSchema(schemas.Subject, 1)
		if len(v) < 5 || v[0] != 0 || !ok || int(binary.BigEndian.Uint32(v[1:5])) != ss.ID {
			d.t.Fatalf("record %s: not Confluent framed with the id registered under %s", r.Key, schemas.Subject)
		}
		v = v[5:]
	}
	native, rest, err := d.codec.NativeFromBinary(v)
	if err != nil || len(rest) != 0 {
		d.t.Fatalf("record %s: decode: %v (%d bytes left)", r.Key, err, len(rest))
	}
	m := native.(map[string]any)
	u := func(name string) string {
		x, ok := m[name].(map[string]any)
		if !ok {
			return "NULL"
		}
		for _, val := range x {
			return fmt.Sprint(val)
		}
		return "NULL"
	}
	e := enriched{key: string(r.Key), contentType: u("content_type"), length: u("length_seconds"), secs: u("engagement_seconds"),
		pct: u("engagement_pct"), eventTs: m["event_ts"].(time.Time), headers: map[string]string{}}
	for _, h := range r.Headers {
		e.headers[h.Key] = string(h.Value)
	}
	return e
}

func plainEvent(id int64, content *uuid.UUID, ts time.Time, durationMs *int32) []byte {
	ev := map[string]any{"id": id, "user_id": uuid.NewString(), "event_type": "play", "event_ts": ts.UTC().Format(time.RFC3339Nano),
		"device": "ios", "raw_payload": map[string]any{"k": 1}}
	if content != nil {
		ev["content_id"] = content.String()
	}
	if durationMs != nil {
		ev["duration_ms"] = *durationMs
	}
	b, _ := json.Marshal(ev)
	return b
}

func i32(v int32) *int32 { return &v }

func TestEnrichEndToEnd(t *testing.T) {
	for _, withRegistry := range []bool{false, true} {
		t.Run(map[bool]string{false: "single-object", true: "schema-registry"}[withRegistry], func(t *testing.T) {
			testEnrich(t, withRegistry)
		})
	}
}

func testEnrich(t *testing.T, withRegistry bool) {
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 3, map[string]string{"cleanup.policy": "compact"})
	kc.Topic(eventsTopic, 3, nil)
	kc.Topic(backfillTopic, 2, nil)
	kc.Topic(outputTopic, 3, nil)
	kc.Topic("enricher.dlq", 1, nil)
	w, err := dbztest.New()
	if err != nil {
		t.Fatal(err)
	}

	// Content history: A changes length at t1; B is deleted at t2; C has no
	// length; D has length 0.
	t0 := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	podcast, video, newsletter := "podcast", "video", "newsletter"
	lsn := int64(1000)
	content := func(op byte, id uuid.UUID, typ *string, length *int32, at time.Time) *kgo.Record {
		lsn += 8
		return &kgo.Record{Topic: contentTopic, Partition: partitionOf(id), Key: w.Key(dbztest.FormPlain, id),
			Value: w.Change(dbztest.FormPlain, op, &dbztest.Content{ID: id, Slug: "s", Title: "t", ContentType: typ, LengthSeconds: length, PublishTS: t0},
				dbztest.Source{LSN: lsn, TsMs: at.UnixMilli()})}
	}
	kc.Produce(
		content('c', a, &podcast, i32(1200), t0), content('u', a, &podcast, i32(600), t1),
		content('c', b, &video, i32(100), t0), content('d', b, nil, nil, t2),
		content('c', c, &newsletter, nil, t0), content('c', d, &video, i32(0), t0),
	)

	unknown := uuid.New()
	type tc struct {
		name     string
		content  *uuid.UUID
		at       time.Time
		duration *int32
		want     string
	}
	cases := []tc{
		{"before the first version uses the first", &a, t0.Add(-time.Hour), i32(12340), "type=podcast len=1200 secs=12.34 pct=0.01"},
		{"as of the first version", &a, t0.Add(time.Minute), i32(600000), "type=podcast len=1200 secs=600 pct=0.5"},
		{"exact half rounds away from zero", &a, t0.Add(time.Minute), i32(6000), "type=podcast len=1200 secs=6 pct=0.01"},
		{"as of the second version", &a, t1.Add(time.Minute), i32(600000), "type=podcast len=600 secs=600 pct=1"},
		{"just below half rounds down", &a, t1.Add(time.Minute), i32(2999), "type=podcast len=600 secs=2.999 pct=0"},
		{"null duration", &a, t1.Add(time.Minute), nil, "type=podcast len=600 secs=NULL pct=NULL"},
		{"negative duration", &a, t1.Add(time.Minute), i32(-5), "type=podcast len=600 secs=NULL pct=NULL"},
		{"before its delete", &b, t0.Add(time.Minute), i32(5), "type=video len=100 secs=0.005 pct=0"},
		{"after its delete is a miss", &b, t2.Add(time.Minute), i32(1000), "type=NULL len=NULL secs=1 pct=NULL"},
		{"null length", &c, t0.Add(time.Minute), i32(1000), "type=newsletter len=NULL secs=1 pct=NULL"},
		{"zero length", &d, t0.Add(time.Minute), i32(1000), "type=video len=0 secs=1 pct=NULL"},
		{"no content id", nil, t0, i32(1000), "type=NULL len=NULL secs=1 pct=NULL"},
		{"unknown content is a miss", &unknown, t0, i32(2500), "type=NULL len=NULL secs=2.5 pct=NULL"},
		{"very large duration", &a, t1.Add(time.Minute), i32(2147483647), "type=podcast len=600 secs=2.147483647e+06 pct=3579.14"},
	}
	want := map[string]tc{}
	var events []*kgo.Record
	for i, c := range cases {
		id := int64(100 + i)
		topic, part := eventsTopic, int32(i%3)
		if i%4 == 3 {
			topic, part = backfillTopic, int32(i%2)
		}
		events = append(events, &kgo.Record{Topic: topic, Partition: part, Key: []byte(strconv.FormatInt(id, 10)), Value: plainEvent(id, c.content, c.at, c.duration)})
		want[strconv.FormatInt(id, 10)] = c
	}
	// Records that produce nothing, and one that goes to the DLQ.
	events = append(events,
		&kgo.Record{Topic: eventsTopic, Partition: 0, Key: []byte(`{"id":7}`)}, // tombstone
		&kgo.Record{Topic: eventsTopic, Partition: 1, Key: []byte("x"), Value: []byte(`{"id":"not a number"}`)},
	)
	kc.Produce(events...)

	cfg := testConfig(kc.Addrs(), t.TempDir())
	cfg.JoinWait = 2 * time.Second // the two misses are held this long for their content
	var reg *srfake.Registry
	if withRegistry {
		reg = srfake.New()
		t.Cleanup(reg.Close)
		cfg.SchemaRegistryURL = reg.URL()
	}
	tm := startMain(t, cfg)
	dec := newOutputDecoder(t, reg)

	got := map[string]enriched{}
	for _, r := range kc.ReadAll(outputTopic, len(cases), 60*time.Second) {
		e := dec.decode(r)
		if _, dup := got[e.key]; dup {
			t.Errorf("event %s enriched twice", e.key)
		}
		got[e.key] = e
	}
	for key, c := range want {
		e, ok := got[key]
		switch {
		case !ok:
			t.Errorf("%s: event %s: no output", c.name, key)
		case e.String() != "key="+key+" "+c.want:
			t.Errorf("%s:\n got %s\nwant key=%s %s", c.name, e, key, c.want)
		case !e.eventTs.Equal(c.at):
			t.Errorf("%s: event_ts: got %v, want %v", c.name, e.eventTs, c.at)
		case e.headers["source.topic"] == "" || e.headers["source.partition"] == "" || e.headers["source.offset"] == "":
			t.Errorf("%s: source headers missing: %v", c.name, e.headers)
		}
	}
	if len(got) != len(cases) {
		t.Fatalf("got %d outputs, want %d", len(got), len(cases))
	}
	dead := kc.ReadAll("enricher.dlq", 1, 30*time.Second)
	if len(dead) != 1 || string(dead[0].Key) != "x" {
		t.Fatalf("dlq: got %d records, want the one bad event", len(dead))
	}
	testkafka.Eventually(t, 30*time.Second, "the batch's counters", func() bool {
		return counter(t, tm.Registry, "enricher_events_total", map[string]string{"result": "skipped"}) == 1 &&
			counter(t, tm.Registry, "enricher_events_total", map[string]string{"result": "miss_after_hold"}) == 2
	})

	// A restart resumes from the committed offsets: nothing is enriched twice.
	if err := tm.stop(); err != nil {
		t.Fatal(err)
	}
	tm = startMain(t, cfg)
	tm.waitReady(30 * time.Second)
	late := uuid.New()
	kc.Produce(&kgo.Record{Topic: eventsTopic, Partition: 0, Key: []byte("999"), Value: plainEvent(999, &late, t0, i32(1))})
	out := kc.ReadAll(outputTopic, len(cases)+1, 60*time.Second)
	if len(out) != len(cases)+1 || string(out[len(out)-1].Key) != "999" {
		t.Fatalf("after restart: got %d outputs (last %q), want %d ending with 999", len(out), out[len(out)-1].Key, len(cases)+1)
	}
	// Exactly one: a record replayed from before the restart would make it more.
	waitCounter(t, tm.Registry, "enricher_events_total", nil, 1)
}

// TestEventBeforeItsContent holds the content view back (its Schema Registry
// is down), sends an event whose content is waiting in the content topic, and
// checks the event is held until the content is applied instead of being
// emitted as a miss.
func TestEventBeforeItsContent(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 1, nil)
	kc.Topic(eventsTopic, 1, nil)
	kc.Topic(backfillTopic, 1, nil)
	kc.Topic(outputTopic, 1, nil)
	reg := newTestRegistry(t)
	reg.allowOutput.Store(true)
	down := &reg.down
	cfg := testConfig(kc.Addrs(), t.TempDir())
	cfg.SchemaRegistryURL = reg.URL()
	cfg.JoinWait = 60 * time.Second
	tm := startMain(t, cfg)
	tm.waitReady(30 * time.Second)

	w, err := dbztest.New()
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	typ := "video"
	down.Store(true)
	kc.Produce(&kgo.Record{Topic: contentTopic, Key: w.Key(dbztest.FormAvro, id),
		Value: w.Change(dbztest.FormAvro, 'c', &dbztest.Content{ID: id, Slug: "s", Title: "t", ContentType: &typ, LengthSeconds: i32(10), PublishTS: time.Now()},
			dbztest.Source{LSN: 8, TsMs: time.Now().Add(-time.Hour).UnixMilli()})})
	testkafka.Eventually(t, 30*time.Second, "the view to stall on the registry", func() bool {
		return counter(t, tm.Registry, "enricher_cdc_retries_total", map[string]string{"reason": "schema_registry"}) >= 1
	})
	kc.Produce(&kgo.Record{Topic: eventsTopic, Key: []byte("1"), Value: plainEvent(1, &id, time.Now(), i32(5000))})
	testkafka.Eventually(t, 30*time.Second, "the enricher to hold the event", func() bool {
		return counter(t, tm.Registry, "enricher_held_events", nil) == 1
	})
	down.Store(false)
	out := kc.ReadAll(outputTopic, 1, 60*time.Second)
	if len(out) != 1 {
		t.Fatalf("got %d outputs, want 1", len(out))
	}
	if e := newOutputDecoder(t, reg.Registry).decode(out[0]); e.String() != "key=1 type=video len=10 secs=5 pct=0.5" {
		t.Fatalf("got %s, want the content the view caught up with", e)
	}
	waitCounter(t, tm.Registry, "enricher_events_total", map[string]string{"result": "joined_after_hold"}, 1)
}
