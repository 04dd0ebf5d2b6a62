package httpapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/thmanyah/enricher/internal/testredis"
	"github.com/thmanyah/enricher/store"
)

type topAnswer struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason"`
	Items     []struct {
		ContentID         string  `json:"content_id"`
		Title             *string `json:"title"`
		EngagementSeconds float64 `json:"engagement_seconds"`
	} `json:"items"`
}

func TestTop(t *testing.T) {
	rs := testredis.New(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })

	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	known := make([]uuid.UUID, 12)
	var b store.Batch
	for i := range known {
		known[i] = uuid.New()
		b.Put(store.Change{ID: known[i], Row: store.Row{Slug: "s" + known[i].String(), Title: "title " + string(rune('A'+i)),
			ContentType: sql.NullString{String: "video", Valid: true}, PublishMicros: 1}, Source: store.Source{Topic: "c", Offset: int64(i)}})
	}
	if _, err := st.Apply(&b); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var zs []redis.Z
	for i, id := range known { // score i: known[11] is first
		zs = append(zs, redis.Z{Member: id.String(), Score: float64(i) + 0.5})
	}
	unknown := uuid.New()
	zs = append(zs, redis.Z{Member: unknown.String(), Score: 100})
	if err := rdb.ZAdd(ctx, TopKey, zs...).Err(); err != nil {
		t.Fatal(err)
	}

	read := func(r TopReader) (topAnswer, time.Duration) {
		t.Helper()
		h, err := NewHandler(Config{View: st, Tracker: tracker{ready: true}, Gatherer: prometheus.NewRegistry(), Redis: r})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		start := time.Now()
		code, body := get(t, srv, "/debug/top")
		took := time.Since(start)
		if code != 200 {
			t.Fatalf("/debug/top: got %d %s, want 200 whatever Redis does", code, body)
		}
		var a topAnswer
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatal(err)
		}
		return a, took
	}

	t.Run("top ten with titles from the view", func(t *testing.T) {
		a, _ := read(rdb)
		if !a.Available || len(a.Items) != 10 {
			t.Fatalf("got available %v and %d items (%s), want 10", a.Available, len(a.Items), a.Reason)
		}
		if a.Items[0].ContentID != unknown.String() || a.Items[0].Title != nil || a.Items[0].EngagementSeconds != 100 {
			t.Errorf("first: got %+v, want the unknown id with 100 s and no title", a.Items[0])
		}
		for i, it := range a.Items[1:] {
			want := known[11-i]
			if it.ContentID != want.String() || it.Title == nil || *it.Title != "title "+string(rune('A'+11-i)) || it.EngagementSeconds != float64(11-i)+0.5 {
				t.Errorf("item %d: got %+v, want %s with its title", i+1, it, want)
			}
		}
	})
	t.Run("no redis configured", func(t *testing.T) {
		a, _ := read(nil)
		if a.Available || !strings.Contains(a.Reason, "no Redis configured") || a.Items == nil {
			t.Errorf("got %+v, want unavailable, the reason and an empty list", a)
		}
	})
	t.Run("redis down: unavailable with the reason, quickly", func(t *testing.T) {
		rs.Stop()
		a, took := read(rdb)
		if a.Available || !strings.HasPrefix(a.Reason, "redis: ") || len(a.Items) != 0 {
			t.Errorf("got %+v, want unavailable with redis's error", a)
		}
		if took > 2*topTimeout {
			t.Errorf("took %v, want at most %v", took, 2*topTimeout)
		}
	})
}
