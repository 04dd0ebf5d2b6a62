package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/enricher"
	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/fixtures"
	"github.com/thmanyah/enricher/internal/testkafka"
)

type manifestRecord struct {
	Name  string                       `json:"name"`
	Topic string                       `json:"topic"`
	Files map[string]map[string]string `json:"files"`
}

func fixtureRecords(t *testing.T) []manifestRecord {
	b, err := fixtures.Read("manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Records []manifestRecord }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Records
}

func fixtureBytes(t *testing.T, name string) []byte {
	b, err := fixtures.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".hex") && b != nil {
		if b, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

// TestEnrichFixtures runs the golden Debezium records through the service:
// the content records (plain form, in the manifest's order) build the view,
// and every form of every engagement record must come out enriched the same
// way, as of the event's time, although the content topic ends with a truncate.
func TestEnrichFixtures(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 1, nil)
	kc.Topic(eventsTopic, 1, nil)
	kc.Topic(backfillTopic, 1, nil)
	kc.Topic(outputTopic, 1, nil)
	reg := newTestRegistry(t)

	type sent struct{ name, form string }
	var content, events []*kgo.Record
	var origin []sent
	for _, r := range fixtureRecords(t) {
		switch r.Topic {
		case contentTopic:
			f := r.Files["plain"]
			content = append(content, &kgo.Record{Topic: contentTopic, Key: fixtureBytes(t, f["key"]), Value: fixtureBytes(t, f["value"])})
		case eventsTopic:
			for form, f := range r.Files {
				events = append(events, &kgo.Record{Topic: eventsTopic, Key: fixtureBytes(t, f["key"]), Value: fixtureBytes(t, f["value"])})
				origin = append(origin, sent{r.Name, form})
			}
		}
	}
	kc.Produce(content...)
	kc.Produce(events...)
	cfg := testConfig(kc.Addrs(), t.TempDir())
	cfg.SchemaRegistryURL = reg.URL()
	startMain(t, cfg)

	// Worked by hand from the fixtures: event time against the content's history.
	want := map[string]string{
		// 2025-03-09, before the snapshot: the first version (5412 s); 5398/5412 = 0.9974.
		"engagement-snapshot-first-in-data-collection": "key=1001 type=podcast len=5412 secs=5398 pct=1",
		// 61.25 s of 2710 s = 0.0226.
		"engagement-snapshot-last": "key=1002 type=video len=2710 secs=61.25 pct=0.02",
		// created 09:20:41 with 4268 s; the event at 09:21:05 has no duration.
		"engagement-create-null-duration": "key=1003 type=podcast len=4268 secs=NULL pct=NULL",
		// 09:21:05, before the 11:05 update to 5436 s: 5411/5412 = 0.9998.
		"engagement-create-jsonb":        "key=1004 type=podcast len=5412 secs=5411 pct=1",
		"engagement-create-null-content": "key=1005 type=NULL len=NULL secs=NULL pct=NULL",
	}
	wantOut := 0
	for _, o := range origin {
		if _, ok := want[o.name]; ok {
			wantOut++
		}
	}
	dec := newOutputDecoder(t, reg.Registry)
	out := kc.ReadAll(outputTopic, wantOut, 60*time.Second)
	seen := map[string]bool{}
	for _, r := range out {
		e := dec.decode(r)
		off, _ := strconv.Atoi(e.headers["source.offset"])
		o := origin[off]
		seen[o.name+"/"+o.form] = true
		if e.String() != want[o.name] {
			t.Errorf("%s (%s):\n got %s\nwant %s", o.name, o.form, e, want[o.name])
		}
	}
	for _, o := range origin {
		if _, ok := want[o.name]; ok && !seen[o.name+"/"+o.form] {
			t.Errorf("%s (%s): no output", o.name, o.form)
		}
	}
	if len(out) != wantOut {
		t.Errorf("got %d outputs, want %d (the truncate produces none)", len(out), wantOut)
	}
}

// TestEventBeforeItsContentTimesOut: when the view stays behind for longer
// than --join-wait, the event is emitted as a miss and counted so.
func TestEventBeforeItsContentTimesOut(t *testing.T) {
	kc := testkafka.New(t)
	for _, tp := range []string{contentTopic, eventsTopic, backfillTopic, outputTopic} {
		kc.Topic(tp, 1, nil)
	}
	reg := newTestRegistry(t)
	down := &reg.down
	cfg := testConfig(kc.Addrs(), t.TempDir())
	cfg.SchemaRegistryURL = reg.URL()
	cfg.JoinWait = 300 * time.Millisecond
	cfg.SourceHeaders = false // the default
	tm := startMain(t, cfg)
	tm.waitReady(30 * time.Second)
	testkafka.Eventually(t, 30*time.Second, "the output schema registered", func() bool { code, _ := tm.get("/readyz"); return code == 200 })

	w, _ := dbztest.New()
	id := uuid.New()
	down.Store(true)
	kc.Produce(&kgo.Record{Topic: contentTopic, Key: w.Key(dbztest.FormAvro, id),
		Value: w.Change(dbztest.FormAvro, 'c', &dbztest.Content{ID: id, PublishTS: time.Now()}, dbztest.Source{LSN: 8, TsMs: 1})})
	kc.Produce(&kgo.Record{Topic: eventsTopic, Key: []byte("1"), Value: plainEvent(1, &id, time.Now(), i32(5000))})
	out := kc.ReadAll(outputTopic, 1, 60*time.Second)
	if len(out) != 1 {
		t.Fatalf("got %d outputs, want 1", len(out))
	}
	if len(out[0].Headers) != 1 || out[0].Headers[0].Key != enricher.HeaderSource {
		t.Errorf("output has headers %v; want only %s without --source-headers", out[0].Headers, enricher.HeaderSource)
	}
	down.Store(false) // the decoder of the test fetches the output schema
	if e := newOutputDecoder(t, reg.Registry).decode(out[0]); e.String() != "key=1 type=NULL len=NULL secs=5 pct=NULL" {
		t.Fatalf("got %s, want a miss", e)
	}
	waitCounter(t, tm.Registry, "enricher_events_total", map[string]string{"result": "miss_after_hold"}, 1)
}

// groupTimings makes the consumer group rebalance in test time.
func groupTimings(gc *kafka.ConsumerGroupConfig) {
	gc.HeartbeatInterval = 100 * time.Millisecond
	gc.SessionTimeout = 2 * time.Second
	gc.RebalanceTimeout = 2 * time.Second
	gc.JoinGroupBackoff = 100 * time.Millisecond
	gc.PartitionWatchInterval = 500 * time.Millisecond
}

// TestTwoInstancesShareTheGroup: two instances, each with its own view, split
// the engagement partitions; every event comes out exactly once.
func TestTwoInstancesShareTheGroup(t *testing.T) {
	kc := testkafka.New(t, kfake.GroupMinSessionTimeout(time.Second))
	kc.Topic(contentTopic, 1, nil)
	kc.Topic(eventsTopic, 6, nil)
	kc.Topic(backfillTopic, 1, nil)
	kc.Topic(outputTopic, 3, nil)
	var ms []*testMain
	for i := 0; i < 2; i++ {
		cfg := testConfig(kc.Addrs(), t.TempDir())
		cfg.groupHook = groupTimings
		ms = append(ms, startMain(t, cfg))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := kc.WaitGroupStable(ctx, "enricher", 2); err != nil {
		t.Fatalf("group of two did not form: %v", err)
	}
	const n = 3000
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Topic: eventsTopic, Partition: int32(i % 6), Key: []byte(strconv.Itoa(i)), Value: plainEvent(int64(i), nil, time.Now(), i32(1000))})
	}
	kc.Produce(recs...)
	if dups := onceEach(t, kc.ReadAll(outputTopic, n, 60*time.Second), n); dups != 0 {
		t.Errorf("%d duplicates in a clean run, want 0", dups)
	}
	for i, m := range ms {
		testkafka.Eventually(t, 30*time.Second, fmt.Sprintf("instance %d to count events (none: the group did not share the partitions)", i), func() bool {
			return counter(t, m.Registry, "enricher_events_total", nil) > 0
		})
	}
}

// TestRestartMidStream stops and restarts the service while events keep
// arriving: nothing is lost, and the duplicates (at most the batch in
// flight at each stop) are counted.
func TestRestartMidStream(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 1, nil)
	kc.Topic(eventsTopic, 3, nil)
	kc.Topic(backfillTopic, 1, nil)
	kc.Topic(outputTopic, 3, nil)
	cfg := testConfig(kc.Addrs(), t.TempDir())
	const n, chunk = 6000, 200
	produced := atomic.Int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i += chunk {
			var recs []*kgo.Record
			for j := i; j < i+chunk; j++ {
				recs = append(recs, &kgo.Record{Topic: eventsTopic, Partition: int32(j % 3), Key: []byte(strconv.Itoa(j)), Value: plainEvent(int64(j), nil, time.Now(), i32(1))})
			}
			if err := kc.Client.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			produced.Add(chunk)
		}
	}()
	outputs := func() int64 {
		var total int64
		for p := int32(0); p < 3; p++ {
			if pi := kc.PartitionInfo(outputTopic, p); pi != nil {
				total += pi.HighWatermark
			}
		}
		return total
	}
	for restart := 1; restart <= 2; restart++ {
		tm := startMain(t, cfg)
		target := int64(restart) * n / 3
		testkafka.Eventually(t, 60*time.Second, fmt.Sprintf("%d outputs", target), func() bool { return outputs() >= target })
		if err := tm.stop(); err != nil {
			t.Fatalf("stop %d: %v", restart, err)
		}
	}
	<-done
	startMain(t, cfg)
	dups := onceEach(t, kc.ReadAll(outputTopic, n, 60*time.Second), n)
	t.Logf("2 restarts mid-stream: %d events, 0 lost, %d duplicates", n, dups)
}
