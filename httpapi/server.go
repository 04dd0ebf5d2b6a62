package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/cdc"
	"github.com/thmanyah/enricher/store"
)

// View is the read side of the content view.
type View interface {
	Get(id uuid.UUID) (store.Record, bool, error)
	List(after uuid.UUID, limit int) ([]store.Record, error)
	Len() int
}

// Tracker reports the view's readiness and position in the content topic.
type Tracker interface {
	Ready() bool
	Status() []cdc.PartitionStatus
	// Unreachable is why Kafka cannot be reached, while it cannot; nil
	// otherwise. Before the view is ready it is /readyz's reason.
	Unreachable() error
}

// Config wires the handler. View, Tracker and Gatherer are required.
type Config struct {
	View     View
	Tracker  Tracker
	Gatherer prometheus.Gatherer
	Logger   *zap.Logger
	// Stats, when set, adds its fields to /debug/stats (the enricher's counters).
	Stats func() map[string]any
	// Blocked, when set and returning a reason, keeps /readyz at 503 with that
	// reason although the view is ready (e.g. the output schema cannot be registered).
	Blocked func() string

	// Queries (query.go): as-of, history, join explanation, search.
	// Queries reads versions and searches; nil: View, when it can (a
	// *store.Store does), else those queries answer 501.
	Queries QueryView
	// Explain answers /debug/join for a content id and event time (epoch
	// ms); nil: 503. An error wrapping ErrUnavailable is a 503 with its text.
	Explain func(id uuid.UUID, eventTsMs int64) (JoinAnswer, error)

	// Console (console.go): the console's page, assets and its own endpoints.
	// Errors, when set, feeds /debug/overview's last errors (tee its Core into the logger).
	Errors *ErrRing
	// Redis, when set, is where /debug/top reads engagement:top:10m; nil: the
	// console says no Redis is configured. The handler never closes it.
	Redis TopReader

	// DLQ (dlqapi.go): the dead-letter topic's latest records.
	// DLQ, when set, is where /debug/dlq reads (a *dlq.Reader); nil: 503.
	DLQ DLQReader
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// NewHandler returns the handler for every endpoint.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.View == nil || cfg.Tracker == nil || cfg.Gatherer == nil {
		return nil, errors.New("httpapi: view, tracker and gatherer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	h := &handler{Config: cfg, latency: newLatencyWindow(latencySpan, latencyStep)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/content/{id}", h.content)
	mux.HandleFunc("GET /debug/content", h.list)
	mux.HandleFunc("GET /debug/stats", h.stats)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(cfg.Logger)}))
	h.queryRoutes(mux)
	h.consoleRoutes(mux)
	h.dlqRoutes(mux)
	return jsonMux{mux}, nil
}

// jsonMux is a ServeMux whose every route has a method, so that it answers
// a known path asked with another method 405 with an Allow header, and an
// unknown path 404, both with a JSON error body like every other answer.
type jsonMux struct{ mux *http.ServeMux }

func (m jsonMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := m.mux.Handler(r); pattern == "" {
		// No route: the mux answers with its own 404, or 405 and Allow;
		// its status and headers, our body.
		w = &muxError{ResponseWriter: w, r: r}
	}
	// ServeHTTP, not the handler Handler returned: it sets r's path values.
	m.mux.ServeHTTP(w, r)
}

// muxError replaces the plain-text body of the mux's own 404 and 405 with
// {"error": ...}.
type muxError struct {
	http.ResponseWriter
	r       *http.Request
	replace bool
}

func (e *muxError) WriteHeader(code int) {
	var msg string
	switch code {
	case http.StatusNotFound:
		msg = "no such endpoint: " + e.r.URL.Path
	case http.StatusMethodNotAllowed:
		msg = e.r.Method + " is not allowed on " + e.r.URL.Path + "; allowed: " + e.Header().Get("Allow")
	default:
		e.ResponseWriter.WriteHeader(code)
		return
	}
	e.replace = true
	writeError(e.ResponseWriter, code, msg)
}

func (e *muxError) Write(b []byte) (int, error) {
	if e.replace {
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

type handler struct {
	Config
	latency *latencyWindow
}

type sourceJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	LSN       *int64 `json:"lsn"`
	TsMs      int64  `json:"ts_ms"`
}

type contentJSON struct {
	ID            string     `json:"id"`
	Slug          string     `json:"slug"`
	Title         string     `json:"title"`
	ContentType   *string    `json:"content_type"`
	LengthSeconds *int32     `json:"length_seconds"`
	PublishTS     string     `json:"publish_ts"`
	Source        sourceJSON `json:"source"`
}

func toJSON(r store.Record) contentJSON {
	c := contentJSON{
		ID:        r.ID.String(),
		Slug:      r.Row.Slug,
		Title:     r.Row.Title,
		PublishTS: time.UnixMicro(r.Row.PublishMicros).UTC().Format(time.RFC3339Nano),
		Source:    sourceJSON{Topic: r.Source.Topic, Partition: r.Source.Partition, Offset: r.Source.Offset, TsMs: r.Source.TsMs},
	}
	if r.Row.ContentType.Valid {
		c.ContentType = &r.Row.ContentType.String
	}
	if r.Row.LengthSeconds.Valid {
		c.LengthSeconds = &r.Row.LengthSeconds.Int32
	}
	if r.Source.LSN != 0 {
		c.Source.LSN = &r.Source.LSN
	}
	return c
}

func (h *handler) content(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := parseUUID(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "id is not a uuid: "+strconv.Quote(truncate(raw)))
		return
	}
	if r.URL.Query().Has("as_of") {
		h.contentAsOf(w, r, id)
		return
	}
	rec, ok, err := h.View.Get(id)
	if err != nil {
		h.Logger.Error("debug content get", zap.Stringer("id", id), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "read view: "+err.Error())
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "content "+id.String()+" is not in the view")
		return
	}
	writeJSON(w, http.StatusOK, toJSON(rec))
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to "+strconv.Itoa(maxLimit))
			return
		}
		limit = n
	}
	var after uuid.UUID
	if s := q.Get("after"); s != "" {
		id, err := parseUUID(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "after is not a uuid: "+strconv.Quote(truncate(s)))
			return
		}
		after = id
	}
	if q.Has("q") {
		h.search(w, q.Get("q"), after, limit)
		return
	}
	// One more than asked tells whether a next page exists.
	recs, err := h.View.List(after, limit+1)
	if err != nil {
		h.Logger.Error("debug content list", zap.Error(err))
		writeError(w, http.StatusInternalServerError, "read view: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, newContentPage(recs, limit, uuid.Nil))
}

// contentPage is one page of the list or a search: items, and the cursor
// of the next page (null on the last).
type contentPage struct {
	Items []contentJSON `json:"items"`
	Next  *string       `json:"next"`
}

// newContentPage pages recs, read one more than limit: that extra record
// means a next page, which starts after the page's last item. next is a
// cursor the read already returned (a search that stopped at its scan
// bound), or uuid.Nil.
func newContentPage(recs []store.Record, limit int, next uuid.UUID) contentPage {
	if len(recs) > limit {
		recs, next = recs[:limit], recs[limit-1].ID
	}
	p := contentPage{Items: make([]contentJSON, 0, len(recs))}
	for _, rec := range recs {
		p.Items = append(p.Items, toJSON(rec))
	}
	if next != uuid.Nil {
		s := next.String()
		p.Next = &s
	}
	return p
}

func (h *handler) stats(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{
		"content_rows": h.View.Len(),
		"ready":        h.Tracker.Ready(),
		"partitions":   h.Tracker.Status(),
	}
	if h.Stats != nil {
		for k, v := range h.Stats() {
			out[k] = v
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) readyz(w http.ResponseWriter, _ *http.Request) {
	if !h.Tracker.Ready() {
		reason := "content view catching up"
		if err := h.Tracker.Unreachable(); err != nil {
			reason = err.Error()
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": reason, "partitions": h.Tracker.Status()})
		return
	}
	if h.Blocked != nil {
		if reason := h.Blocked(); reason != "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": reason})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true})
}

// parseUUID accepts only the canonical 36-character form, so one row has one URL.
func parseUUID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, errors.New("not a uuid")
	}
	return uuid.Parse(s)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
