package redissink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// HandlerConfig wires the sink's HTTP handler. Redis and Gatherer are required.
type HandlerConfig struct {
	Redis    redis.UniversalClient
	Gatherer prometheus.Gatherer
	// TopKey and Prefix as in SinkConfig; defaults likewise.
	TopKey, Prefix string
	// DefaultN is /top's n when none is given; default 10. MaxN caps n; default 1000.
	DefaultN, MaxN int
	// ContentAPI is the base URL of `enricher run` (e.g. http://localhost:8080);
	// when set, /top adds each item's title from its /debug/content/{id}.
	// Titles are not in processed_engagements records.
	ContentAPI string
	HTTPClient *http.Client // for ContentAPI; default: 2 s timeout
	Logger     *zap.Logger
}

// TopItem is one entry of GET /top.
type TopItem struct {
	Rank        int     `json:"rank"`
	ContentID   string  `json:"content_id"`
	Score       float64 `json:"score"`
	ContentType string  `json:"content_type,omitempty"`
	Title       string  `json:"title,omitempty"`
}

// TopResponse is the body of GET /top.
type TopResponse struct {
	Key   string    `json:"key"`
	Items []TopItem `json:"items"`
}

// NewHandler serves GET /top?n=N, /healthz and /metrics; another method on
// one of them is answered 405 with an Allow header, any other path 404.
func NewHandler(cfg HandlerConfig) (http.Handler, error) {
	if cfg.Redis == nil || cfg.Gatherer == nil {
		return nil, errors.New("redis sink http: redis client and gatherer are required")
	}
	if cfg.TopKey == "" {
		cfg.TopKey = DefaultTopKey
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "engagement:"
	}
	if cfg.DefaultN <= 0 {
		cfg.DefaultN = 10
	}
	if cfg.MaxN <= 0 {
		cfg.MaxN = 1000
	}
	if cfg.ContentAPI != "" {
		u, err := url.Parse(cfg.ContentAPI)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("redis sink http: content api %q is not an http(s) URL", cfg.ContentAPI)
		}
		cfg.ContentAPI = strings.TrimRight(cfg.ContentAPI, "/")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 2 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	h := &handler{cfg: cfg, types: cfg.Prefix + "content_type", titles: map[string]title{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /top", h.top)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(cfg.Logger)}))
	// A known path asked with another method is answered 405 with Allow
	// (the method-less patterns lose to the GET ones, and win over "/").
	for _, path := range []string{"/top", "/healthz", "/metrics"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + r.Method + " not allowed on " + path})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint: " + r.URL.Path})
	})
	return mux, nil
}

type title struct {
	text    string
	expires time.Time
}

type handler struct {
	cfg   HandlerConfig
	types string

	mu     sync.Mutex
	titles map[string]title // cache of the content API's answers
}

func (h *handler) top(w http.ResponseWriter, r *http.Request) {
	n := h.cfg.DefaultN
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > h.cfg.MaxN {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("n must be an integer from 1 to %d", h.cfg.MaxN)})
			return
		}
		n = v
	}
	ctx := r.Context()
	zs, err := h.cfg.Redis.ZRevRangeWithScores(ctx, h.cfg.TopKey, 0, int64(n-1)).Result()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "redis: " + err.Error()})
		return
	}
	resp := TopResponse{Key: h.cfg.TopKey, Items: make([]TopItem, len(zs))}
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i], _ = z.Member.(string)
		resp.Items[i] = TopItem{Rank: i + 1, ContentID: ids[i], Score: z.Score}
	}
	if len(ids) > 0 {
		types, err := h.cfg.Redis.HMGet(ctx, h.types, ids...).Result()
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "redis: " + err.Error()})
			return
		}
		for i, t := range types {
			resp.Items[i].ContentType, _ = t.(string)
		}
	}
	if h.cfg.ContentAPI != "" {
		for i, t := range h.lookupTitles(ctx, ids) {
			resp.Items[i].Title = t
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// lookupTitles asks the content API for the titles it has not cached, in
// parallel; a title it cannot get is left empty.
func (h *handler) lookupTitles(ctx context.Context, ids []string) []string {
	out := make([]string, len(ids))
	now := time.Now()
	var wg sync.WaitGroup
	h.mu.Lock()
	for i, id := range ids {
		if t, ok := h.titles[id]; ok && now.Before(t.expires) {
			out[i] = t.text
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			text, ttl, err := h.fetchTitle(ctx, id)
			if err != nil {
				h.cfg.Logger.Debug("content api", zap.String("id", id), zap.Error(err))
				return
			}
			out[i] = text
			h.mu.Lock()
			h.titles[id] = title{text: text, expires: time.Now().Add(ttl)}
			h.mu.Unlock()
		}()
	}
	if len(h.titles) > 100_000 {
		clear(h.titles) // a cache, not a copy of the catalogue
	}
	h.mu.Unlock()
	wg.Wait()
	return out
}

func (h *handler) fetchTitle(ctx context.Context, id string) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.cfg.ContentAPI+"/debug/content/"+url.PathEscape(id), nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := h.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		var body struct {
			Title string `json:"title"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return "", 0, fmt.Errorf("decode content %s: %w", id, err)
		}
		return body.Title, 5 * time.Minute, nil
	case http.StatusNotFound:
		return "", 30 * time.Second, nil // not (yet) in the view
	default:
		return "", 0, fmt.Errorf("content %s: HTTP %d", id, resp.StatusCode)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
