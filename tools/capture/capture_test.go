package capture

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/internal/fixtures"
	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/tools/datagen"
)

// schema is the contract's data model.
const schema = datagen.Schema

const (
	contentTopic = "thmanyah.public.content"
	eventsTopic  = "thmanyah.public.engagement_events"
)

type env struct {
	pg   *pgtemp.Cluster
	kc   *testkafka.Cluster
	conn *pgx.Conn
}

// newEnv starts a temporary Postgres with the contract's tables and a kfake
// cluster; both go when the test ends.
func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	pg, err := pgtemp.Start(ctx)
	if errors.Is(err, pgtemp.ErrNoServer) {
		t.Skip("no PostgreSQL server binaries")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	e := &env{pg: pg, kc: testkafka.New(t), conn: conn}
	e.exec(t, schema)
	return e
}

func (e *env) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := e.conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) config() Config {
	return Config{PGURL: e.pg.URL("postgres"), Brokers: e.kc.Addrs()}
}

// start runs a Capture until stop is called (or the test ends); stop fails
// the test when Run did not return nil.
func start(t testing.TB, cfg Config) (*Capture, func()) {
	t.Helper()
	r := run(t, cfg)
	return r.c, func() {
		t.Helper()
		if err := r.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

type runner struct {
	c      *Capture
	cancel context.CancelFunc
	done   chan error
	err    error
	once   sync.Once
}

// run starts a Capture, after letting set adjust it (nil: as New made it).
func run(t testing.TB, cfg Config, set ...func(*Capture)) *runner {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range set {
		f(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// wait returns Run's result, waiting at most a minute.
func (r *runner) wait() error {
	r.once.Do(func() {
		select {
		case r.err = <-r.done:
		case <-time.After(60 * time.Second):
			r.err = errors.New("run did not return")
		}
	})
	return r.err
}

func (r *runner) stop() error {
	r.cancel()
	return r.wait()
}

// rec is one record read back, decoded by the project's decoder.
type rec struct {
	r   *kgo.Record
	doc map[string]json.RawMessage
	ev  debezium.ContentEvent
	eng debezium.EngagementEvent
}

func (r rec) kind() debezium.Kind {
	if r.r.Topic == contentTopic {
		return r.ev.Kind
	}
	return r.eng.Kind
}

func (r rec) op() debezium.Op {
	if r.r.Topic == contentTopic {
		return r.ev.Op
	}
	return r.eng.Op
}

func (r rec) src() debezium.Source {
	if r.r.Topic == contentTopic {
		return r.ev.Source
	}
	return r.eng.Source
}

func (r rec) field(path ...string) string {
	doc := r.doc
	for _, p := range path[:len(path)-1] {
		doc = nil
		_ = json.Unmarshal(r.doc[p], &doc)
	}
	return string(doc[path[len(path)-1]])
}

func readTopic(t *testing.T, kc *testkafka.Cluster, topic string, want int) []rec {
	t.Helper()
	raw := kc.ReadAll(topic, want, 60*time.Second)
	if len(raw) != want {
		t.Fatalf("%s: got %d records, want %d", topic, len(raw), want)
	}
	dec := debezium.NewDecoder(nil)
	out := make([]rec, len(raw))
	for i, r := range raw {
		out[i].r = r
		var err error
		if topic == contentTopic {
			out[i].ev, err = dec.Content(context.Background(), r.Key, r.Value)
		} else {
			out[i].eng, err = dec.Engagement(context.Background(), r.Key, r.Value)
		}
		if err != nil {
			t.Fatalf("%s offset %d: decode %s / %s: %v", topic, r.Offset, r.Key, r.Value, err)
		}
		if r.Value != nil {
			if err := json.Unmarshal(r.Value, &out[i].doc); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Within a partition, records follow the WAL.
	last := map[int32]int64{}
	for _, x := range out {
		if x.kind() == debezium.KindTombstone {
			continue
		}
		if l := x.src().LSN; l < last[x.r.Partition] {
			t.Errorf("%s partition %d offset %d: lsn %d after %d", topic, x.r.Partition, x.r.Offset, l, last[x.r.Partition])
		} else {
			last[x.r.Partition] = l
		}
	}
	return out
}

// keyOrder lists the object keys of a JSON value, depth first, with paths.
func keyOrder(t *testing.T, b []byte) []string {
	t.Helper()
	var walk func(prefix string, raw json.RawMessage) []string
	walk = func(prefix string, raw json.RawMessage) []string {
		dec := json.NewDecoder(bytes.NewReader(raw))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return nil
		}
		var out []string
		for dec.More() {
			k, _ := dec.Token()
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, prefix+k.(string))
			out = append(out, walk(prefix+k.(string)+".", v)...)
		}
		return out
	}
	return walk("", b)
}

var zoned = regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"$`)

func TestCapture(t *testing.T) {
	e := newEnv(t)
	const (
		c1, c2, c3 = "10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000002", "30000000-0000-4000-8000-000000000003"
		c4, c5, c6 = "40000000-0000-4000-8000-000000000004", "50000000-0000-4000-8000-000000000005", "60000000-0000-4000-8000-000000000006"
		c7         = "70000000-0000-4000-8000-000000000007"
		arabic     = "فنجان: رحلة الخط العربي"
	)
	e.exec(t, `INSERT INTO content VALUES
		($1,'one','One','podcast',100,'2025-02-18 17:00:00+00'),
		($2,'two','Two','video',200,'2025-02-19 17:00:00.123456+00'),
		($3,'three','Three','newsletter',300,'2025-02-20 17:00:00+00')`, c1, c2, c3)
	e.exec(t, `INSERT INTO engagement_events VALUES
		(1,$1,'0f8e2d4c-6a1b-4c3d-9e5f-7a8b9c0d1e2f','play','2025-03-09 21:04:11.532+00',1000,'ios','{"network": "wifi"}'),
		(2,$2,NULL,'pause','2025-03-09 21:05:00+00',2000,'web',NULL)`, c1, c2)
	c, _ := start(t, e.config())
	testkafka.Eventually(t, 60*time.Second, "the snapshot to be acknowledged", func() bool {
		s := c.Stats()
		return s.SnapshotDone && s.Acked == 5
	})

	bigTitle := make([]byte, 6000) // random hex does not compress: stored out of line
	_, _ = rand.Read(bigTitle)
	e.exec(t, `INSERT INTO content VALUES ($1,'arabic',$2,'podcast',4268,'2025-03-10 09:20:00+00')`, c4, arabic)
	e.exec(t, `INSERT INTO content VALUES ($1,'nulls','Nulls',NULL,NULL,'2025-03-10 09:30:00+00')`, c5)
	e.exec(t, `INSERT INTO engagement_events VALUES
		(3,$1,'71c3a9e5-4b2d-4f8a-8e6c-2d9b0f1a3c57','play','2025-03-10 09:21:05.402+00',NULL,'android','{"source": "home_feed", "position_ms": 0}'),
		(4,NULL,NULL,'click','2025-03-10 09:22:13.201+00',NULL,NULL,'{"utm": {"source": "x"}}')`, c4) // one transaction
	e.exec(t, `UPDATE content SET length_seconds = 4275 WHERE id = $1`, c4)
	e.exec(t, `INSERT INTO content VALUES ($1,'toast',$2,'newsletter',1380,'2025-03-10 10:00:00+00')`, c6, hex.EncodeToString(bigTitle))
	e.exec(t, `UPDATE content SET length_seconds = 1381 WHERE id = $1`, c6)
	e.exec(t, `DELETE FROM content WHERE id = $1`, c3)
	e.exec(t, `UPDATE content SET id = $2 WHERE id = $1`, c5, c7) // key change: d + tombstone, c
	e.exec(t, `ALTER TABLE content REPLICA IDENTITY FULL`)
	e.exec(t, `UPDATE content SET title = 'One (Remastered)', length_seconds = 101 WHERE id = $1`, c1)
	e.exec(t, `TRUNCATE content, engagement_events`)

	content := readTopic(t, e.kc, contentTopic, 15)
	events := readTopic(t, e.kc, eventsTopic, 5)

	// Per key, in partition order: the row's history.
	type step struct {
		kind debezium.Kind
		op   debezium.Op
	}
	r, cr, u, d, tomb := step{debezium.KindChange, 'r'}, step{debezium.KindChange, 'c'}, step{debezium.KindChange, 'u'}, step{debezium.KindChange, 'd'}, step{kind: debezium.KindTombstone}
	want := map[string][]step{c1: {r, u}, c2: {r}, c3: {r, d, tomb}, c4: {cr, u}, c5: {cr, d, tomb}, c6: {cr, u}, c7: {cr}, "": {{debezium.KindTruncate, 't'}}}
	got := map[string][]step{}
	byOp := map[string]rec{}
	var newKey, oldKey string
	for _, x := range content {
		for _, h := range x.r.Headers {
			switch h.Key {
			case "__debezium.newkey":
				newKey = string(h.Value)
			case "__debezium.oldkey":
				oldKey = string(h.Value)
			}
		}
		k := ""
		if x.r.Key != nil {
			k = x.ev.Key.String()
		}
		got[k] = append(got[k], step{x.ev.Kind, x.ev.Op})
		byOp[k+"/"+x.ev.Op.String()] = x
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("content key %q: got %v, want %v", k, got[k], w)
		}
	}
	if newKey != `{"id":"`+c7+`"}` || oldKey != `{"id":"`+c5+`"}` {
		t.Errorf("key change headers: newkey %s, oldkey %s", newKey, oldKey)
	}

	// Snapshot markers, in table order.
	var markers []string
	for _, x := range append(slices.Clone(content), events...) {
		if x.op() == 'r' {
			markers = append(markers, x.src().Table+":"+x.src().Snapshot)
		}
	}
	slices.Sort(markers)
	wantMarkers := []string{"content:first", "content:last_in_data_collection", "content:true",
		"engagement_events:first_in_data_collection", "engagement_events:last"}
	if !slices.Equal(markers, wantMarkers) {
		t.Errorf("snapshot markers: got %v, want %v", markers, wantMarkers)
	}
	snap := byOp[c2+"/r"]
	if got, want := snap.field("after", "publish_ts"), `"2025-02-19T17:00:00.123456Z"`; got != want {
		t.Errorf("snapshot publish_ts: got %s, want %s", got, want)
	}
	if got := snap.field("source", "sequence"); !regexp.MustCompile(`^"\[null,\\"\d+\\"\]"$`).MatchString(got) {
		t.Errorf("snapshot sequence: got %s", got)
	}

	// Arabic title in raw UTF-8; DEFAULT identity update has no before.
	ins, upd := byOp[c4+"/c"], byOp[c4+"/u"]
	if !bytes.Contains(ins.r.Value, []byte(arabic)) || ins.ev.Row.Title != arabic {
		t.Errorf("arabic title: got %s", ins.r.Value)
	}
	if upd.field("before") != "null" || upd.ev.Row.LengthSeconds.Int32 != 4275 {
		t.Errorf("update: got %s", upd.r.Value)
	}
	if !zoned.MatchString(upd.field("after", "publish_ts")) {
		t.Errorf("publish_ts: got %s", upd.field("after", "publish_ts"))
	}
	if got := byOp[c5+"/c"].field("after"); got != `{"id":"`+c5+`","slug":"nulls","title":"Nulls","content_type":null,"length_seconds":null,"publish_ts":"2025-03-10T09:30:00.000000Z"}` {
		t.Errorf("nulls: got %s", got)
	}
	// The JSON shape is the fixture's.
	fixture, _ := fixtures.Read("content-update.plain.value.json")
	if g, w := keyOrder(t, upd.r.Value), keyOrder(t, fixture); !slices.Equal(g, w) {
		t.Errorf("field order:\n got %v\nwant %v", g, w)
	}
	// Transactions: sequence is [previous commit end, lsn]; source.ts the commit.
	if is, us := ins.src(), upd.src(); us.TxID <= is.TxID || us.LSN <= is.LSN || us.TsMs < is.TsMs {
		t.Errorf("source: insert %+v, update %+v", is, us)
	}
	if seq := upd.field("source", "sequence"); !regexp.MustCompile(`^"\[\\"\d+\\",\\"` + regexp.QuoteMeta(upd.field("source", "lsn")) + `\\"\]"$`).MatchString(seq) {
		t.Errorf("sequence: got %s", seq)
	}

	// TOAST: the unchanged out-of-line title is the placeholder.
	toast := byOp[c6+"/u"]
	if toast.field("after", "title") != `"`+placeholder+`"` || toast.ev.Unavailable != debezium.ColTitle {
		t.Errorf("toast update: got %s (unavailable %v)", toast.r.Value, toast.ev.Unavailable)
	}
	// Delete under DEFAULT: key real, NOT NULL columns Debezium's fallbacks.
	del := byOp[c3+"/d"]
	if got, want := del.field("before"), `{"id":"`+c3+`","slug":"","title":"","content_type":null,"length_seconds":null,"publish_ts":"1970-01-01T00:00:00Z"}`; got != want {
		t.Errorf("delete before:\n got %s\nwant %s", got, want)
	}
	// FULL: before is the old row.
	full := byOp[c1+"/u"]
	if got, want := full.field("before"), `{"id":"`+c1+`","slug":"one","title":"One","content_type":"podcast","length_seconds":100,"publish_ts":"2025-02-18T17:00:00.000000Z"}`; got != want {
		t.Errorf("full update before:\n got %s\nwant %s", got, want)
	}
	if full.ev.Row.Title != "One (Remastered)" {
		t.Errorf("full update after: got %s", full.r.Value)
	}
	trunc := byOp["/t"]
	if trunc.r.Key != nil || trunc.field("before") != "null" || trunc.field("after") != "null" || trunc.src().Table != "content" {
		t.Errorf("truncate: got key %s value %s", trunc.r.Key, trunc.r.Value)
	}

	// Engagement: NULLs, JSONB as a string, one transaction, truncate.
	var ops []string
	evs := map[int64]debezium.EngagementEvent{}
	for _, x := range events {
		ops = append(ops, x.op().String())
		if x.eng.Kind == debezium.KindChange {
			evs[x.eng.Event.ID] = x.eng
		}
		if x.eng.Kind == debezium.KindTruncate && trunc.src().LSN != x.src().LSN {
			t.Errorf("truncates of one statement: lsn %d and %d", trunc.src().LSN, x.src().LSN)
		}
	}
	slices.Sort(ops)
	if !slices.Equal(ops, []string{"c", "c", "r", "r", "t"}) {
		t.Errorf("engagement ops: got %v", ops)
	}
	e3, e4 := evs[3], evs[4]
	if e3.Event.DurationMs.Valid || string(e3.Event.RawPayload) != `{"source": "home_feed", "position_ms": 0}` || e3.Event.EventTs.UnixMilli() != 1741598465402 {
		t.Errorf("event 3: got %+v", e3.Event)
	}
	if e4.Event.ContentID.Valid || e4.Event.UserID.Valid || e4.Source.TxID != e3.Source.TxID || e4.Source.LSN <= e3.Source.LSN {
		t.Errorf("event 4: got %+v (event 3 %+v)", e4, e3)
	}
	if s := c.Stats(); s.SnapshotRows != 5 || s.StreamRows != 13 {
		t.Errorf("stats: got %+v, want 5 snapshot rows and 13 streamed", s)
	}
}
