package httpapi

import (
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/thmanyah/enricher/cdc"
	"github.com/thmanyah/enricher/store"
)

type tracker struct {
	ready       bool
	unreachable error
}

func (t tracker) Ready() bool        { return t.ready }
func (t tracker) Unreachable() error { return t.unreachable }
func (t tracker) Status() []cdc.PartitionStatus {
	return []cdc.PartitionStatus{{Topic: "c", Partition: 0, Offset: 5, EndOffset: 7, Lag: 2}}
}

func newTestServer(t *testing.T, ready bool, ids ...uuid.UUID) *httptest.Server {
	t.Helper()
	return newTestServerTracker(t, tracker{ready: ready}, ids...)
}

func newTestServerTracker(t *testing.T, tr Tracker, ids ...uuid.UUID) *httptest.Server {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var b store.Batch
	for i, id := range ids {
		b.Put(store.Change{ID: id, Row: store.Row{Slug: "s", Title: "عنوان", ContentType: sql.NullString{String: "video", Valid: true},
			PublishMicros: 1741598100000000}, Source: store.Source{Topic: "c", Partition: 0, Offset: int64(i), LSN: int64(8 * (i + 1)), TsMs: 1741598100000}})
	}
	if _, err := st.Apply(&b); err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Config{View: st, Tracker: tr, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	res, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	a := uuid.MustParse("11111111-1111-4111-8111-111111111111")
	b := uuid.MustParse("22222222-2222-4222-8222-222222222222")
	srv := newTestServer(t, true, b, a)
	for _, tc := range []struct {
		name, path string
		code       int
		body       string // a substring the body must hold
	}{
		{"get", "/debug/content/" + a.String(), 200, `"title":"عنوان","content_type":"video","length_seconds":null,"publish_ts":"2025-03-10T09:15:00Z","source":{"topic":"c","partition":0,"offset":1,"lsn":16,"ts_ms":1741598100000}`},
		{"get upper case id", "/debug/content/" + strings.ToUpper(a.String()), 200, `"id":"` + a.String() + `"`},
		{"absent", "/debug/content/33333333-3333-4333-8333-333333333333", 404, `"error":`},
		{"not a uuid", "/debug/content/abc", 400, `not a uuid`},
		{"uuid without dashes", "/debug/content/11111111111141118111111111111111", 400, `not a uuid`},
		{"path trick", "/debug/content/..%2f..%2fetc%2fpasswd", 400, `not a uuid`},
		{"list", "/debug/content?limit=1", 200, `"next":"` + a.String() + `"`},
		{"list last page", "/debug/content?after=" + a.String(), 200, `"next":null`},
		{"list empty page", "/debug/content?after=" + b.String(), 200, `{"items":[],"next":null}`},
		{"limit zero", "/debug/content?limit=0", 400, `limit`},
		{"limit negative", "/debug/content?limit=-5", 400, `limit`},
		{"limit huge", "/debug/content?limit=99999999999999999999", 400, `limit`},
		{"after not uuid", "/debug/content?after=x", 400, `after`},
		{"stats", "/debug/stats", 200, `"content_rows":2`},
		{"stats partitions", "/debug/stats", 200, `"end_offset":7,"lag":2`},
		{"healthz", "/healthz", 200, `ok`},
		{"readyz", "/readyz", 200, `"ready":true`},
		{"metrics", "/metrics", 200, ``},
		{"unknown", "/nope", 404, `no such endpoint`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, srv, tc.path)
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Fatalf("GET %s: got %d %s, want %d with %s", tc.path, code, body, tc.code, tc.body)
			}
			if code != 200 && tc.path != "/metrics" {
				var e map[string]any
				if err := json.Unmarshal([]byte(body), &e); err != nil || e["error"] == nil {
					t.Fatalf("GET %s: error body %q is not {\"error\":...}", tc.path, body)
				}
			}
		})
	}
}

func TestNotReady(t *testing.T) {
	srv := newTestServer(t, false)
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, `"lag":2`) {
		t.Fatalf("/readyz: got %d %s, want 503 with the lag", code, body)
	}
}

func TestReadyzReason(t *testing.T) {
	unreachable := errors.New("kafka unreachable at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused")
	for _, tc := range []struct {
		name    string
		tracker tracker
		code    int
		reason  string
	}{
		{"catching up", tracker{}, 503, "content view catching up"},
		{"kafka unreachable", tracker{unreachable: unreachable}, 503, unreachable.Error()},
		{"ready while kafka is unreachable", tracker{ready: true, unreachable: unreachable}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestServerTracker(t, tc.tracker)
			code, body := get(t, srv, "/readyz")
			var got struct {
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("/readyz: %q is not JSON: %v", body, err)
			}
			if code != tc.code || got.Reason != tc.reason {
				t.Fatalf("/readyz: got %d with reason %q, want %d with %q", code, got.Reason, tc.code, tc.reason)
			}
		})
	}
}

// TestMethods: a known path asked with a method it does not serve answers
// 405 with Allow; an unknown path 404, whatever the method; both in JSON.
func TestMethods(t *testing.T) {
	srv := newTestServer(t, true)
	id := "11111111-1111-4111-8111-111111111111"
	for _, tc := range []struct {
		name, method, path string
		code               int
		allow              string
	}{
		{"get stats", http.MethodGet, "/debug/stats", 200, ""},
		{"head healthz", http.MethodHead, "/healthz", 200, ""},
		{"post stats", http.MethodPost, "/debug/stats", 405, "GET, HEAD"},
		{"delete content", http.MethodDelete, "/debug/content/" + id, 405, "GET, HEAD"},
		{"put readyz", http.MethodPut, "/readyz", 405, "GET, HEAD"},
		{"post healthz", http.MethodPost, "/healthz", 405, "GET, HEAD"},
		{"patch content list", http.MethodPatch, "/debug/content", 405, "GET, HEAD"},
		{"post metrics", http.MethodPost, "/metrics", 405, "GET, HEAD"},
		{"get unknown", http.MethodGet, "/nope", 404, ""},
		{"post unknown", http.MethodPost, "/nope", 404, ""},
		{"delete root: the console is GET only", http.MethodDelete, "/", 405, "GET, HEAD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.code {
				t.Fatalf("%s %s: got %d %s, want %d", tc.method, tc.path, res.StatusCode, body, tc.code)
			}
			if got := res.Header.Get("Allow"); got != tc.allow {
				t.Errorf("%s %s: got Allow %q, want %q", tc.method, tc.path, got, tc.allow)
			}
			if tc.code >= 400 {
				var e struct {
					Error string `json:"error"`
				}
				if ct := res.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("%s %s: got Content-Type %q, want application/json", tc.method, tc.path, ct)
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
					t.Errorf("%s %s: body %q is not {\"error\":...}", tc.method, tc.path, body)
				}
			}
		})
	}
}
