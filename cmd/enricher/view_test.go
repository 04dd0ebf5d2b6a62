package main

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/testkafka"
)

const contentTopic = "thmanyah.public.content"

// viewRow is what the model expects /debug/content/{id} to answer.
type viewRow struct {
	ID            string  `json:"id"`
	Slug          string  `json:"slug"`
	Title         string  `json:"title"`
	ContentType   *string `json:"content_type"`
	LengthSeconds *int32  `json:"length_seconds"`
	PublishTS     string  `json:"publish_ts"`
	Source        struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
		LSN       *int64 `json:"lsn"`
		TsMs      int64  `json:"ts_ms"`
	} `json:"source"`
}

// contentGen produces a random but reproducible stream of content changes in
// mixed converter forms, and keeps the model of what the view must hold.
type contentGen struct {
	t       *testing.T
	w       *dbztest.Writer
	rng     *rand.Rand
	lsn, ts int64
	form    map[uuid.UUID]dbztest.Form // one converter per row, as one connector would
	model   map[uuid.UUID]*modelRow
	sent    map[uuid.UUID][]*kgo.Record // LSN-bearing records, for re-delivery
	ids     []uuid.UUID
	garbage []*kgo.Record
}

func newContentGen(t *testing.T, seed uint64) *contentGen {
	w, err := dbztest.New()
	if err != nil {
		t.Fatal(err)
	}
	return &contentGen{t: t, w: w, rng: rand.New(rand.NewPCG(seed, 1)), lsn: 1_000_000, ts: 1741599000000,
		form: map[uuid.UUID]dbztest.Form{}, model: map[uuid.UUID]*modelRow{}, sent: map[uuid.UUID][]*kgo.Record{}}
}

func partitionOf(id uuid.UUID) int32 {
	h := fnv.New32a()
	h.Write(id[:])
	return int32(h.Sum32() % 3)
}

var contentTypes = []string{"podcast", "newsletter", "video"}

func (g *contentGen) row(id uuid.UUID) *dbztest.Content {
	c := &dbztest.Content{ID: id, Slug: fmt.Sprintf("slug-%s-%d", id.String()[:8], g.rng.IntN(1000)),
		Title:     []string{"فنجان: حلقة", "Long read", "Video essay"}[g.rng.IntN(3)] + " " + strconv.Itoa(g.rng.IntN(1e6)),
		PublishTS: time.UnixMicro(g.ts*1000 - int64(g.rng.IntN(1e9))).UTC()}
	if g.rng.IntN(10) > 0 {
		ct := contentTypes[g.rng.IntN(3)]
		c.ContentType = &ct
	}
	if g.rng.IntN(10) > 0 {
		l := int32(g.rng.IntN(7200))
		c.LengthSeconds = &l
	}
	return c
}

// next produces n records and updates the model as the view must apply them.
func (g *contentGen) next(n int) []*kgo.Record {
	var out []*kgo.Record
	for len(out) < n {
		g.lsn += 8 * int64(1+g.rng.IntN(50))
		g.ts += int64(1 + g.rng.IntN(500))
		src := dbztest.Source{LSN: g.lsn, TsMs: g.ts, TxID: g.lsn / 8}
		switch p := g.rng.IntN(100); {
		case p < 35 || len(g.ids) == 0: // create
			id := uuid.New()
			f := dbztest.Form(g.rng.IntN(int(dbztest.NumForms)))
			g.form[id], g.ids = f, append(g.ids, id)
			out = append(out, g.change(id, 'c', g.row(id), src))
		case p < 75: // update, sometimes with the title left in TOAST
			id := g.ids[g.rng.IntN(len(g.ids))]
			if _, live := g.model[id]; !live {
				continue
			}
			r := g.row(id)
			toast := g.form[id] != dbztest.FormAvro && g.rng.IntN(5) == 0
			if toast {
				r.Title = "__debezium_unavailable_value"
			}
			out = append(out, g.change(id, 'u', r, src))
		case p < 85: // delete, then its tombstone (but for the flattened forms, whose SMT drops tombstones)
			id := g.ids[g.rng.IntN(len(g.ids))]
			if _, live := g.model[id]; !live {
				continue
			}
			out = append(out, g.change(id, 'd', &dbztest.Content{ID: id, PublishTS: time.Unix(0, 0)}, src))
			if f := g.form[id]; f != dbztest.FormUnwrapPlain && f != dbztest.FormUnwrapSchema {
				out = append(out, &kgo.Record{Topic: contentTopic, Partition: partitionOf(id), Key: g.w.Key(f, id)})
			}
		case p < 92: // a re-delivered older change: must not move the row back
			id := g.ids[g.rng.IntN(len(g.ids))]
			if old := g.sent[id]; len(old) > 1 {
				r := old[g.rng.IntN(len(old)-1)]
				out = append(out, &kgo.Record{Topic: contentTopic, Partition: r.Partition, Key: r.Key, Value: r.Value})
			}
		default:
			out = append(out, g.bad())
		}
	}
	return out
}

func (g *contentGen) change(id uuid.UUID, op byte, r *dbztest.Content, src dbztest.Source) *kgo.Record {
	f := g.form[id]
	rec := &kgo.Record{Topic: contentTopic, Partition: partitionOf(id), Key: g.w.Key(f, id), Value: g.w.Change(f, op, r, src)}
	if f == dbztest.FormSchema || f == dbztest.FormPlain || f == dbztest.FormAvro {
		g.sent[id] = append(g.sent[id], rec)
	}
	if op == 'd' {
		delete(g.model, id)
		return rec
	}
	prev, had := g.model[id]
	v := viewRow{ID: id.String(), Slug: r.Slug, Title: r.Title, ContentType: r.ContentType, LengthSeconds: r.LengthSeconds,
		PublishTS: r.PublishTS.UTC().Format(time.RFC3339Nano)}
	if r.Title == "__debezium_unavailable_value" && had {
		v.Title = prev.v.Title
	}
	v.Source.Topic, v.Source.Partition, v.Source.TsMs = contentTopic, rec.Partition, src.TsMs
	if f == dbztest.FormSchema || f == dbztest.FormPlain || f == dbztest.FormAvro {
		lsn := src.LSN
		v.Source.LSN = &lsn
	}
	g.model[id] = &modelRow{v: v, rec: rec}
	return rec
}

// modelRow is a row the view must hold; its source offset is known only once
// rec is produced.
type modelRow struct {
	v   viewRow
	rec *kgo.Record
}

func (m *modelRow) want() viewRow {
	v := m.v
	v.Source.Offset = m.rec.Offset
	return v
}

// bad returns a record no decoder can take, each for a different reason.
func (g *contentGen) bad() *kgo.Record {
	id := uuid.New()
	key := g.w.Key(dbztest.FormPlain, id)
	var val []byte
	switch g.rng.IntN(6) {
	case 0:
		val = []byte(`{not json`)
	case 1:
		val = []byte(`{"foo":1}`)
	case 2:
		val = []byte(`[1,2,3]`)
	case 3:
		val = []byte(`{"before":null,"after":null,"source":{"lsn":1,"ts_ms":1},"op":"x"}`)
	case 4:
		key = []byte(`{"id":"not-a-uuid"}`)
		val = g.w.Change(dbztest.FormPlain, 'c', g.row(id), dbztest.Source{LSN: 8, TsMs: 1})
	case 5: // Avro framing with a schema id the registry does not have
		val = append([]byte{0, 0, 0, 0, 99}, 2, 4, 6)
	}
	r := &kgo.Record{Topic: contentTopic, Partition: int32(g.rng.IntN(3)), Key: key, Value: val}
	g.garbage = append(g.garbage, r)
	return r
}

// assertView compares every row of the model, every id the generator ever
// made (deleted ones must be absent) and the paginated listing with the view.
func (g *contentGen) assertView(tm *testMain) {
	g.t.Helper()
	for _, id := range g.ids {
		var got viewRow
		code := tm.getJSON("/debug/content/"+id.String(), &got)
		m, live := g.model[id]
		switch {
		case !live && code != http.StatusNotFound:
			g.t.Fatalf("GET /debug/content/%s: got %d, want 404 (deleted)", id, code)
		case live && code != http.StatusOK:
			g.t.Fatalf("GET /debug/content/%s: got %d, want 200", id, code)
		case live && !equalRow(got, m.want()):
			g.t.Fatalf("GET /debug/content/%s:\n got %+v\nwant %+v", id, show(got), show(m.want()))
		}
	}
	var listed []string
	after := ""
	for page := 0; ; page++ {
		var res struct {
			Items []viewRow `json:"items"`
			Next  *string   `json:"next"`
		}
		path := "/debug/content?limit=97"
		if after != "" {
			path += "&after=" + after
		}
		if code := tm.getJSON(path, &res); code != http.StatusOK {
			g.t.Fatalf("GET %s: got %d", path, code)
		}
		for _, it := range res.Items {
			listed = append(listed, it.ID)
		}
		if res.Next == nil {
			break
		}
		after = *res.Next
	}
	want := make([]string, 0, len(g.model))
	for id := range g.model {
		want = append(want, id.String())
	}
	sort.Strings(want)
	if fmt.Sprint(listed) != fmt.Sprint(want) {
		g.t.Fatalf("listing: got %d ids, want %d in id order", len(listed), len(want))
	}
	var stats struct {
		Rows int `json:"content_rows"`
	}
	tm.getJSON("/debug/stats", &stats)
	if stats.Rows != len(g.model) {
		g.t.Fatalf("/debug/stats content_rows: got %d, want %d", stats.Rows, len(g.model))
	}
}

func equalRow(a, b viewRow) bool { return fmt.Sprint(show(a)) == fmt.Sprint(show(b)) }

func show(v viewRow) string {
	p := func(s *string) string {
		if s == nil {
			return "NULL"
		}
		return *s
	}
	l := "NULL"
	if v.LengthSeconds != nil {
		l = strconv.Itoa(int(*v.LengthSeconds))
	}
	lsn := "NULL"
	if v.Source.LSN != nil {
		lsn = strconv.FormatInt(*v.Source.LSN, 10)
	}
	return fmt.Sprintf("%s slug=%q title=%q type=%s len=%s pub=%s src=%s/%d@%d lsn=%s ts=%d", v.ID, v.Slug, v.Title,
		p(v.ContentType), l, v.PublishTS, v.Source.Topic, v.Source.Partition, v.Source.Offset, lsn, v.Source.TsMs)
}

// waitCaughtUp waits until the view has read every partition to its end.
func waitCaughtUp(t *testing.T, tm *testMain, kc *testkafka.Cluster) {
	t.Helper()
	testkafka.Eventually(t, 60*time.Second, "the view to reach the end of the content topic", func() bool {
		for _, st := range tm.View.Status() {
			pi := kc.PartitionInfo(contentTopic, int32(st.Partition))
			if pi == nil || st.Offset < pi.HighWatermark {
				return false
			}
		}
		return len(tm.View.Status()) == 3
	})
}

func TestContentViewEndToEnd(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 3, map[string]string{"cleanup.policy": "compact"})
	kc.Topic("enricher.dlq", 1, nil)
	reg := newTestRegistry(t)
	registryDown := &reg.down

	g := newContentGen(t, 42)
	// Phase 1 opens with an Avro record on every partition, so the view cannot
	// catch up while the registry is down.
	var first []*kgo.Record
	for p := int32(0); p < 3; {
		id := uuid.New()
		if partitionOf(id) != p {
			continue
		}
		g.form[id], g.ids = dbztest.FormAvro, append(g.ids, id)
		g.lsn += 8
		g.ts++
		first = append(first, g.change(id, 'c', g.row(id), dbztest.Source{LSN: g.lsn, TsMs: g.ts, TxID: 1}))
		p++
	}
	kc.Produce(first...)
	kc.Produce(g.next(1500)...)

	dataDir := t.TempDir()
	cfg := testConfig(kc.Addrs(), dataDir)
	cfg.SchemaRegistryURL = reg.URL()
	registryDown.Store(true)
	tm := startMain(t, cfg)

	testkafka.Eventually(t, 30*time.Second, "a retry of the unreachable registry", func() bool {
		return counter(t, tm.Registry, "enricher_cdc_retries_total", map[string]string{"reason": "schema_registry"}) >= 2
	})
	if code, body := tm.get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while the registry is down: got %d %s, want 503", code, body)
	}
	if code, _ := tm.get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: got %d, want 200", code)
	}
	registryDown.Store(false)
	back := time.Now()
	tm.waitReady(60 * time.Second)
	t.Logf("schema registry outage: the view was ready %v after the registry came back", time.Since(back).Round(time.Millisecond))
	g.assertView(tm)

	// A truncate is ordered only against its own partition, so it gets a phase
	// of its own: everything before it is applied, then it, then phase 2.
	g.lsn += 8
	g.ts += 10
	kc.Produce(&kgo.Record{Topic: contentTopic, Partition: 0, Value: g.w.Truncate(dbztest.FormPlain, dbztest.Source{LSN: g.lsn, TsMs: g.ts})})
	waitCaughtUp(t, tm, kc)
	clear(g.model)
	g.assertView(tm)

	kc.Produce(g.next(1500)...)
	waitCaughtUp(t, tm, kc)
	g.assertView(tm)

	// Every bad record is in the DLQ, with the contract's headers.
	dead := kc.ReadAll("enricher.dlq", len(g.garbage), 30*time.Second)
	if len(dead) != len(g.garbage) {
		t.Fatalf("dlq: got %d records, want %d", len(dead), len(g.garbage))
	}
	where := map[string]*kgo.Record{}
	for _, r := range g.garbage {
		where[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = r
	}
	for _, d := range dead {
		h := map[string]string{}
		for _, kv := range d.Headers {
			h[kv.Key] = string(kv.Value)
		}
		src, ok := where[h[dlq.HeaderPartition]+"/"+h[dlq.HeaderOffset]]
		switch {
		case !ok:
			t.Fatalf("dlq record names %s/%s, which is not a bad record", h[dlq.HeaderPartition], h[dlq.HeaderOffset])
		case string(d.Value) != string(src.Value) || string(d.Key) != string(src.Key):
			t.Fatalf("dlq record %s/%s: key/value differ from the original", h[dlq.HeaderPartition], h[dlq.HeaderOffset])
		case h[dlq.HeaderError] == "" || h[dlq.HeaderStage] == "" || h[dlq.HeaderTopic] != contentTopic:
			t.Fatalf("dlq headers incomplete: %v", h)
		}
		if _, err := time.Parse(time.RFC3339, h[dlq.HeaderFailedAt]); err != nil {
			t.Fatalf("dlq.failed_at %q: %v", h[dlq.HeaderFailedAt], err)
		}
	}
	waitCounter(t, tm.Registry, "enricher_cdc_records_total", map[string]string{"result": "dlq"}, float64(len(g.garbage)))
	testkafka.Eventually(t, 30*time.Second, "the re-delivered records counted as stale", func() bool {
		return counter(t, tm.Registry, "enricher_cdc_records_total", map[string]string{"result": "stale"}) > 0
	})

	t.Logf("view holds %d rows of %d ids; %d bad records in the dlq; %v stale re-deliveries skipped", len(g.model), len(g.ids), len(g.garbage),
		counter(t, tm.Registry, "enricher_cdc_records_total", map[string]string{"result": "stale"}))

	// A restart resumes from the stored offsets: it reads nothing again.
	if err := tm.stop(); err != nil {
		t.Fatalf("Run after SIGTERM: %v", err)
	}
	tm = startMain(t, cfg)
	tm.waitReady(30 * time.Second)
	if got := counter(t, tm.Registry, "enricher_cdc_records_total", nil); got != 0 {
		t.Fatalf("after restart: %v records read again, want 0", got)
	}
	g.assertView(tm)
	if err := tm.stop(); err != nil {
		t.Fatal(err)
	}

	// An emptied data dir rebuilds the same view from the topic.
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	tm = startMain(t, cfg)
	tm.waitReady(60 * time.Second)
	g.assertView(tm)
}
