package redissink_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/thmanyah/enricher/internal/testredis"
	redissink "github.com/thmanyah/enricher/sink/redis"
)

func TestHTTPTop(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.rdb.ZAdd(ctx, redissink.DefaultTopKey, redis.Z{Member: "a", Score: 1.5}, redis.Z{Member: "b", Score: 9},
		redis.Z{Member: "c", Score: 4.25}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.HSet(ctx, "engagement:content_type", "b", "video", "c", "podcast").Err(); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/debug/content/b":
			_, _ = w.Write([]byte(`{"id":"b","title":"Bee"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer api.Close()
	reg := prometheus.NewRegistry()
	h, err := redissink.NewHandler(redissink.HandlerConfig{Redis: e.rdb, Gatherer: reg, ContentAPI: api.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	code, body := get("/top?n=2")
	if code != http.StatusOK {
		t.Fatalf("/top: %d %s", code, body)
	}
	var top redissink.TopResponse
	if err := json.Unmarshal([]byte(body), &top); err != nil {
		t.Fatalf("/top body %q: %v", body, err)
	}
	want := []redissink.TopItem{
		{Rank: 1, ContentID: "b", Score: 9, ContentType: "video", Title: "Bee"},
		{Rank: 2, ContentID: "c", Score: 4.25, ContentType: "podcast"},
	}
	if len(top.Items) != len(want) || top.Items[0] != want[0] || top.Items[1] != want[1] || top.Key != redissink.DefaultTopKey {
		t.Errorf("/top?n=2: got %+v, want %+v", top, want)
	}
	before := calls.Load()
	if code, _ := get("/top"); code != http.StatusOK || calls.Load() != before+1 {
		t.Errorf("/top: %d, content api calls %d then %d: want cached titles (only a is new)", code, before, calls.Load())
	}
	for _, q := range []string{"0", "-1", "x", "1001"} {
		if code, _ := get("/top?n=" + q); code != http.StatusBadRequest {
			t.Errorf("/top?n=%s: got %d, want 400", q, code)
		}
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := get("/metrics"); code != http.StatusOK {
		t.Errorf("/metrics: %d", code)
	}
	e.rs.Stop()
	if code, body := get("/top"); code != http.StatusServiceUnavailable {
		t.Errorf("/top with redis down: got %d %s, want 503", code, body)
	}
}

// TestHTTPMethods: a known path asked with the wrong method is a 405 naming
// the allowed ones; an unknown path is a 404 whatever the method.
func TestHTTPMethods(t *testing.T) {
	rs := testredis.New(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	h, err := redissink.NewHandler(redissink.HandlerConfig{Redis: rdb, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range []struct {
		name, method, path string
		wantStatus         int
		wantAllow          string
	}{
		{"get top", http.MethodGet, "/top", http.StatusOK, ""},
		{"head healthz", http.MethodHead, "/healthz", http.StatusOK, ""},
		{"get metrics", http.MethodGet, "/metrics", http.StatusOK, ""},
		{"post top", http.MethodPost, "/top", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"delete healthz", http.MethodDelete, "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"put metrics", http.MethodPut, "/metrics", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"get unknown", http.MethodGet, "/nope", http.StatusNotFound, ""},
		{"post unknown", http.MethodPost, "/nope", http.StatusNotFound, ""},
		{"get below top", http.MethodGet, "/top/x", http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("%s %s: got status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.wantStatus)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("%s %s: got Allow %q, want %q", tc.method, tc.path, got, tc.wantAllow)
			}
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode >= 400 && ct != "application/json" {
				t.Errorf("%s %s: got Content-Type %q, want application/json", tc.method, tc.path, ct)
			}
		})
	}
}
