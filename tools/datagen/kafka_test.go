package datagen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	contentTopic = "thmanyah.public.content"
	eventsTopic  = "thmanyah.public.engagement_events"
)

func TestKafka(t *testing.T) {
	for _, tc := range []struct {
		name         string
		updateRate   float64
		createTopics bool
	}{
		{"steady catalogue", -1, false},
		{"churn", 40, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := testkafka.New(t)
			if tc.createTopics {
				kc.Topic(contentTopic, 1, map[string]string{"cleanup.policy": "compact"})
				kc.Topic(eventsTopic, 3, nil)
			}
			g, err := New(Config{Brokers: kc.Addrs(), Catalogue: 40, Rate: 2000, UpdateRate: tc.updateRate, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			stop := started(t, g)
			testkafka.Eventually(t, 30*time.Second, "events and changes", func() bool {
				s := g.Stats()
				return s.Events >= 1000 && (tc.updateRate < 0 || s.Updates >= 5 && s.Deletes >= 2)
			})
			if err := stop(); err != nil {
				t.Fatalf("Run: got %v, want nil after cancel", err)
			}
			st := g.Stats()
			t.Logf("stats: %+v", st)
			if tc.updateRate < 0 && (st.Content != 40 || st.Updates+st.Deletes != 0) {
				t.Errorf("stats %+v: want the catalogue of 40 and no changes", st)
			}

			ctx := context.Background()
			dec := debezium.NewDecoder(nil)
			wantContent := int(st.Content + st.Updates + 2*st.Deletes) // a delete is d + tombstone
			recs := kc.ReadAll(contentTopic, wantContent, 20*time.Second)
			if len(recs) != wantContent {
				t.Fatalf("content records: got %d, want %d", len(recs), wantContent)
			}
			created, live := map[uuid.UUID]bool{}, map[uuid.UUID]debezium.Content{}
			ops := map[string]int{}
			lastLSN := map[int32]int64{} // LSNs grow within each partition
			for _, r := range byPartition(recs) {
				ev, err := dec.Content(ctx, r.Key, r.Value)
				if err != nil {
					t.Fatalf("content record %s / %s: %v", r.Key, r.Value, err)
				}
				switch {
				case ev.Kind == debezium.KindTombstone:
					ops["tombstone"]++
					if _, ok := live[ev.Key]; ok {
						t.Errorf("tombstone of %s before its delete", ev.Key)
					}
				case ev.Op == debezium.OpCreate:
					created[ev.Key], live[ev.Key] = true, ev.Row
				case ev.Op == debezium.OpUpdate:
					if _, ok := live[ev.Key]; !ok {
						t.Errorf("update of %s that is not live", ev.Key)
					}
					live[ev.Key] = ev.Row
				case ev.Op == debezium.OpDelete:
					delete(live, ev.Key)
				}
				if ev.Kind == debezium.KindChange {
					ops[ev.Op.String()]++
					if ev.Source.LSN <= lastLSN[r.Partition] || ev.Source.Table != "content" || ev.Source.TsMs == 0 {
						t.Errorf("source %+v: want table content, ts_ms set, lsn above %d", ev.Source, lastLSN[r.Partition])
					}
					lastLSN[r.Partition] = ev.Source.LSN
				}
			}
			if len(live) != 40 || ops["c"] != int(st.Content) || ops["u"] != int(st.Updates) ||
				ops["d"] != int(st.Deletes) || ops["tombstone"] != int(st.Deletes) {
				t.Errorf("got %d live rows and ops %v; want 40 live and the stats %+v", len(live), ops, st)
			}

			evs := kc.ReadAll(eventsTopic, int(st.Events), 20*time.Second)
			if len(evs) != int(st.Events) {
				t.Fatalf("events: got %d, want %d", len(evs), st.Events)
			}
			ids := map[int64]bool{}
			now := time.Now()
			for _, r := range evs {
				ev, err := dec.Engagement(ctx, r.Key, r.Value)
				if err != nil {
					t.Fatalf("event %s / %s: %v", r.Key, r.Value, err)
				}
				e := ev.Event
				if ids[e.ID] || string(r.Key) != strconv.FormatInt(e.ID, 10) {
					t.Fatalf("event id %d repeated or key %q not its decimal text", e.ID, r.Key)
				}
				ids[e.ID] = true
				if !e.ContentID.Valid || !created[e.ContentID.UUID] {
					t.Fatalf("event %d for content %v never created", e.ID, e.ContentID)
				}
				if _, ok := live[e.ContentID.UUID]; tc.updateRate < 0 && !ok {
					t.Errorf("event %d for content %s that is not live", e.ID, e.ContentID.UUID)
				}
				if d := now.Sub(e.EventTs); d < 0 || d > 5*time.Minute || !e.UserID.Valid || !e.Device.Valid || e.RawPayload == nil {
					t.Errorf("event %+v: want event_ts within minutes of now, user, device and payload", e)
				}
			}
		})
	}
}

// byPartition orders records partition by partition, offsets ascending:
// the order a consumer of each partition sees.
func byPartition(recs []*kgo.Record) []*kgo.Record {
	parts := map[int32][]*kgo.Record{}
	var order []int32
	for _, r := range recs {
		if _, ok := parts[r.Partition]; !ok {
			order = append(order, r.Partition)
		}
		parts[r.Partition] = append(parts[r.Partition], r)
	}
	var out []*kgo.Record
	for _, p := range order {
		out = append(out, parts[p]...)
	}
	return out
}

// keyOrder lists the object keys of a JSON document depth-first, with their
// paths, so two documents can be compared for shape and field order.
func keyOrder(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	var out []string
	var walk func(prefix string)
	walk = func(prefix string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if d, ok := tok.(json.Delim); ok {
			for dec.More() {
				p := prefix
				if d == '{' {
					k, _ := dec.Token()
					p = prefix + k.(string)
					out = append(out, p)
				}
				walk(p + ".")
			}
			_, _ = dec.Token() // the closing delimiter
		}
	}
	walk("")
	return out
}

// TestEnvelopeShape compares what the generator writes with the golden
// Debezium fixtures, field by field and in order.
func TestEnvelopeShape(t *testing.T) {
	dir := "../../internal/fixtures/debezium/"
	m := newModel(1, testBase)
	r := m.newContent()
	for _, tc := range []struct {
		name, fixture string
		op            op
	}{
		{"create", "content-create-arabic", opCreate},
		{"update", "content-update", opUpdate},
		{"delete", "content-delete", opDelete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := os.ReadFile(dir + tc.fixture + ".plain.value.json")
			if err != nil {
				t.Fatal(err)
			}
			k := &kafkaSink{prefix: "thmanyah", lsn: 62303392}
			got, err := k.envelope(change{tc.op, r}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			wantKeys := keyOrder(t, want)
			if len(wantKeys) < 20 {
				t.Fatalf("fixture read as %d keys: %v", len(wantKeys), wantKeys)
			}
			if g, w := strings.Join(keyOrder(t, got), " "), strings.Join(wantKeys, " "); g != w {
				t.Errorf("fields:\n got %s\nwant %s", g, w)
			}
		})
	}
}
