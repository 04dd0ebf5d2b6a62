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
