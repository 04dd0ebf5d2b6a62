package httpapi

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"net/http/httptest"

	"github.com/thmanyah/enricher/enricher"
	"github.com/thmanyah/enricher/store"
)

const t0 = 1741598100000 // 2025-03-10T09:15:00Z

var (
	rowA = uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000001") // create t0, update +1m, delete +2m, re-create +3m, truncate +4m
	rowB = uuid.MustParse("bbbbbbbb-0000-4000-8000-000000000002") // after the truncate
	rowC = uuid.MustParse("cccccccc-0000-4000-8000-000000000003")
	rowD = uuid.MustParse("dddddddd-0000-4000-8000-000000000004")
	rowX = uuid.MustParse("eeeeeeee-0000-4000-8000-000000000005") // never seen
)

// newQueryServer serves a real store holding rows A to D; explain, when
// set, answers /debug/join.
func newQueryServer(t *testing.T, explain func(*store.Store) func(uuid.UUID, int64) (JoinAnswer, error)) *httptest.Server {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	lsn := int64(0)
	put := func(b *store.Batch, id uuid.UUID, slug, title string, ts int64, del bool) {
		lsn += 8
		b.Put(store.Change{ID: id, Delete: del, Row: store.Row{Slug: slug, Title: title, ContentType: sql.NullString{String: "podcast", Valid: true},
			LengthSeconds: sql.NullInt32{Int32: int32(lsn), Valid: true}, PublishMicros: t0 * 1000},
			Source: store.Source{Topic: "c", Partition: 1, Offset: lsn, LSN: lsn, TsMs: ts}})
	}
	var b store.Batch
	put(&b, rowA, "a-one", "First", t0, false)
	put(&b, rowA, "a-two", "Second", t0+60_000, false)
	put(&b, rowA, "", "", t0+120_000, true)
	put(&b, rowA, "hello-a", "Again", t0+180_000, false)
	b.Truncate(store.Source{Topic: "c", Partition: 1, Offset: 100, LSN: 100, TsMs: t0 + 240_000})
	lsn = 100
	put(&b, rowB, "hello-b", "B", t0+300_000, false)
	put(&b, rowC, "other", "HELLO C", t0+300_000, false)
	put(&b, rowD, "world", "Ünïcode", t0+300_000, false)
	if _, err := st.Apply(&b); err != nil {
		t.Fatal(err)
	}
	cfg := Config{View: st, Tracker: tracker{ready: true}, Gatherer: prometheus.NewRegistry()}
	if explain != nil {
		cfg.Explain = explain(st)
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type queryCase struct {
	name, path string
	code       int
	body       []string // substrings the body must hold
}

func runQueryCases(t *testing.T, srv *httptest.Server, cases []queryCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, srv, tc.path)
			if code != tc.code {
				t.Fatalf("status: got %d, want %d; body %s", code, tc.code, body)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatalf("body is not a JSON object: %v: %s", err, body)
			}
			if _, isErr := v["error"]; isErr != (tc.code >= 400) {
				t.Fatalf("error field present=%v for status %d: %s", isErr, tc.code, body)
			}
			for _, want := range tc.body {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %s:\n%s", want, body)
				}
			}
		})
	}
}

func TestContentAsOf(t *testing.T) {
	srv := newQueryServer(t, nil)
	a := "/debug/content/" + rowA.String() + "?as_of="
	long := strings.Repeat("9x", 5000)
	runQueryCases(t, srv, []queryCase{
		{"before the first version", a + fmt.Sprint(t0-1), 404, []string{"precedes the first version", "valid from 2025-03-10T09:15:00.000Z", "the join would use that oldest version"}},
		{"exactly at valid_from, RFC 3339", a + "2025-03-10T09:15:00Z", 200, []string{`"slug":"a-one"`, `"seq":0`, `"valid_from":"2025-03-10T09:15:00.000Z"`, `"op":"create"`, `"source":{"topic":"c","partition":1,"offset":8,"lsn":8,"ts_ms":1741598100000}`}},
		{"another offset, same instant", a + "2025-03-10T12:15:00.000%2B03:00", 200, []string{`"seq":0`}},
		{"between versions, epoch ms", a + fmt.Sprint(t0+59_999), 200, []string{`"slug":"a-one"`, `"seq":0`}},
		{"at the update, fractional seconds", a + "2025-03-10T09:16:00.5Z", 200, []string{`"slug":"a-two"`, `"seq":1`, `"op":"update"`}},
		{"after the delete", a + fmt.Sprint(t0+150_000), 404, []string{"was not live", "(seq 2, valid from 2025-03-10T09:17:00.000Z) is a delete"}},
		{"re-created", a + fmt.Sprint(t0+180_000), 200, []string{`"slug":"hello-a"`, `"seq":3`, `"op":"create"`}},
		{"after the truncate", a + fmt.Sprint(t0+240_000), 404, []string{"is a truncate"}},
		{"unknown id", "/debug/content/" + rowX.String() + "?as_of=0", 404, []string{"is not in the view"}},
		{"without as_of: latest", "/debug/content/" + rowB.String(), 200, []string{`"slug":"hello-b"`}},
		{"empty", a, 400, []string{"as_of is empty"}},
		{"not a time", a + "yesterday", 400, []string{`as_of \"yesterday\" is not a time`, "epoch milliseconds"}},
		{"date only", a + "2025-03-10", 400, []string{"is not a time"}},
		{"digits past int64", a + "99999999999999999999", 400, []string{"out of range"}},
		{"epoch ms past year 9999", a + "253402300800000", 400, []string{"out of range"}},
		{"year 10000", a + "10000-01-01T00:00:00Z", 400, []string{"is not a time"}},
		{"past year 9999 in UTC", a + "9999-12-31T23:59:59-01:00", 400, []string{"past year 9999"}},
		{"unencoded plus", a + "2025-03-10T12:15:00+03:00", 400, []string{"%2B"}},
		{"negative", a + "-5", 400, []string{"is not a time"}},
		{"script tag", a + "%3Cscript%3Ealert(1)%3C/script%3E", 400, []string{`\u003cscript\u003e`}},
		{"NUL", a + "%00", 400, []string{`\\x00`}},
		{"10 kB", a + long, 400, []string{long[:64] + `...\"`}},
	})
	// The 10 kB value comes back truncated, not whole.
	if _, body := get(t, srv, a+long); len(body) > 512 {
		t.Errorf("error body of %d bytes for a 10 kB as_of", len(body))
	}
}

func TestContentHistory(t *testing.T) {
	srv := newQueryServer(t, nil)
	code, body := get(t, srv, "/debug/content/"+rowA.String()+"/history")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var got struct {
		ID       string
		Versions []struct {
			Seq         uint64
			Op          string
			ValidFrom   string `json:"valid_from"`
			ValidFromMs int64  `json:"valid_from_ms"`
			LSN         *int64
			Source      struct{ Offset int64 }
			Row         *struct{ ID, Slug string }
		}
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	type v struct {
		seq  uint64
		op   string
		from int64
		lsn  int64
		slug string // "-": no row
	}
	want := []v{{0, "create", t0, 8, "a-one"}, {1, "update", t0 + 60_000, 16, "a-two"}, {2, "delete", t0 + 120_000, 24, "-"},
		{3, "create", t0 + 180_000, 32, "hello-a"}, {4, "truncate", t0 + 240_000, 100, "-"}}
	if got.ID != rowA.String() || len(got.Versions) != len(want) {
		t.Fatalf("got id %s and %d versions, want %s and %d: %s", got.ID, len(got.Versions), rowA, len(want), body)
	}
	for i, w := range want {
		g := got.Versions[i]
		slug := "-"
		if g.Row != nil {
			slug = g.Row.Slug
			if g.Row.ID != rowA.String() {
				t.Errorf("version %d: row id %s", i, g.Row.ID)
			}
		}
		if g.Seq != w.seq || g.Op != w.op || g.ValidFromMs != w.from || g.ValidFrom != time.UnixMilli(w.from).UTC().Format("2006-01-02T15:04:05.000Z") ||
			g.LSN == nil || *g.LSN != w.lsn || slug != w.slug {
			t.Errorf("version %d: got %+v (lsn %v, slug %s), want %+v", i, g, g.LSN, slug, w)
		}
	}
	runQueryCases(t, srv, []queryCase{
		{"unknown id", "/debug/content/" + rowX.String() + "/history", 404, []string{"no history"}},
		{"bad id", "/debug/content/%3Cb%3E/history", 400, []string{"id is not a uuid"}},
		{"other methods", "/debug/content/" + rowA.String() + "/history/x", 404, []string{"no such endpoint"}},
	})
}

func TestJoin(t *testing.T) {
	explain := func(st *store.Store) func(uuid.UUID, int64) (JoinAnswer, error) {
		return func(id uuid.UUID, ms int64) (JoinAnswer, error) {
			x, err := enricher.Explain(enricher.ExplainConfig{View: st, Versions: st, Fresh: fresh{applied: t0 + 300_000},
				Mode: enricher.ModeAsOf, JoinWait: 30 * time.Second}, id, ms, time.Now())
			return JoinAnswer{Mode: x.Mode.String(), Decision: string(x.Decision), Reason: x.Reason, Version: x.Version}, err
		}
	}
	srv := newQueryServer(t, explain)
	j := func(id uuid.UUID, ts string) string {
		return "/debug/join?content_id=" + id.String() + "&event_ts=" + ts
	}
	runQueryCases(t, srv, []queryCase{
		{"hit as of the event", j(rowA, "2025-03-10T09:15:30Z"), 200, []string{`"content_id":"` + rowA.String(), `"event_ts":"2025-03-10T09:15:30.000Z"`, `"mode":"asof"`, `"decision":"hit"`, `"version":{"id":"` + rowA.String() + `","slug":"a-one"`, `"seq":0`, `"op":"create"`}},
		{"before the first version: the oldest", j(rowA, fmt.Sprint(t0-5000)), 200, []string{`"decision":"hit"`, "precedes the row's first version", `"seq":0`}},
		{"deleted: held, then a miss", j(rowA, fmt.Sprint(t0+130_000)), 200, []string{`"decision":"held"`, "is a delete", `"version":null`}},
		{"unknown: held", j(rowX, "0"), 200, []string{`"decision":"held"`, "is not in the view", `"version":null`}},
		{"newer than the view: held", j(rowB, fmt.Sprint(t0+300_001)), 200, []string{`"decision":"held"`, "newer than every content change", `"slug":"hello-b"`}},
		{"bad event_ts", j(rowA, "soon"), 400, []string{`event_ts \"soon\" is not a time`}},
		{"no event_ts", "/debug/join?content_id=" + rowA.String(), 400, []string{"event_ts is empty"}},
		{"no content_id", "/debug/join?event_ts=0", 400, []string{"content_id is not a uuid"}},
	})

	t.Run("not configured", func(t *testing.T) {
		runQueryCases(t, newQueryServer(t, nil), []queryCase{{"503", j(rowA, "0"), 503, []string{"not configured"}}})
	})
	t.Run("enricher not running", func(t *testing.T) {
		srv := newQueryServer(t, func(*store.Store) func(uuid.UUID, int64) (JoinAnswer, error) {
			return func(uuid.UUID, int64) (JoinAnswer, error) {
				return JoinAnswer{}, fmt.Errorf("%w: the enricher has not started (content view not ready)", ErrUnavailable)
			}
		})
		runQueryCases(t, srv, []queryCase{{"503", j(rowA, "0"), 503, []string{"the enricher has not started"}}})
	})
}

type fresh struct{ applied int64 }

func (f fresh) AppliedTsMs() int64    { return f.applied }
func (f fresh) CaughtUpAt() time.Time { return time.Time{} }

func TestSearch(t *testing.T) {
	srv := newQueryServer(t, nil)
	runQueryCases(t, srv, []queryCase{
		{"case-insensitive, slug or title", "/debug/content?q=HeLLo", 200, []string{`"slug":"hello-b"`, `"slug":"other"`, `"next":null`}},
		{"non-ASCII", "/debug/content?q=%C3%BCN", 200, []string{`"slug":"world"`}},
		{"truncated rows absent", "/debug/content?q=hello-a", 200, []string{`"items":[]`, `"next":null`}},
		{"script tag is just a prefix", "/debug/content?q=%3Cscript%3E", 200, []string{`"items":[]`}},
		{"too long", "/debug/content?q=" + strings.Repeat("x", 300), 400, []string{"longer than 256 bytes", `xxx...\"`}},
		{"NUL", "/debug/content?q=a%00", 400, []string{"control character", `a\\x00`}},
		{"invalid utf-8", "/debug/content?q=%FF", 400, []string{"not valid utf-8"}},
		{"bad limit", "/debug/content?q=a&limit=0", 400, []string{"limit"}},
	})
	// Pages of one: B then C, in id order, then the end.
	var ids []string
	path := "/debug/content?q=hello&limit=1"
	for page := 0; ; page++ {
		if page > 3 {
			t.Fatal("paging does not end")
		}
		code, body := get(t, srv, path)
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		var p struct {
			Items []struct{ ID string }
			Next  *string
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			ids = append(ids, it.ID)
		}
		if p.Next == nil {
			break
		}
		path = "/debug/content?q=hello&limit=1&after=" + *p.Next
	}
	if want := []string{rowB.String(), rowC.String()}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("pages: got %v, want %v", ids, want)
	}
}
