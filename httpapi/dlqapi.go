package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/thmanyah/enricher/dlq"
)

// DLQReader reads the latest records of the DLQ topic (*dlq.Reader).
type DLQReader interface {
	Topic() string
	List(ctx context.Context, f dlq.Filter, limit int) ([]dlq.Entry, error)
}

const (
	dlqDefaultLimit = 50
	dlqMaxLimit     = 500
	// dlqTimeout bounds one /debug/dlq read, so the console never hangs on
	// a Kafka that is away: it gets a 503 with the reason instead.
	dlqTimeout = 3 * time.Second
	// dlqPreview is how much of a value /debug/dlq shows.
	dlqPreview = 512
)

// dlqRoutes registers the dead-letter topic's latest records.
func (h *handler) dlqRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/dlq", h.dlqList)
}

type dlqSourceJSON struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
}

type dlqItemJSON struct {
	Partition    int            `json:"partition"`
	Offset       int64          `json:"offset"`
	Time         string         `json:"time"`
	Stage        string         `json:"stage"`
	Reason       string         `json:"reason"`
	FailedAt     *string        `json:"failed_at"`
	Source       *dlqSourceJSON `json:"source"` // null for a foreign record: its position is unknown
	Key          *string        `json:"key"`
	ValuePreview string         `json:"value_preview"`
	ValueBytes   int            `json:"value_bytes"`
	Foreign      bool           `json:"foreign"`
	Replays      int            `json:"replays"`
}

func (h *handler) dlqList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := dlqDefaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > dlqMaxLimit {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to "+strconv.Itoa(dlqMaxLimit))
			return
		}
		limit = n
	}
	if h.DLQ == nil {
		writeError(w, http.StatusServiceUnavailable, "no DLQ reader is configured")
		return
	}
	f := dlq.Filter{Stage: q.Get("stage"), Reason: q.Get("reason"), SourceTopic: q.Get("source_topic")}
	ctx, cancel := context.WithTimeout(r.Context(), dlqTimeout)
	defer cancel()
	entries, err := h.DLQ.List(ctx, f, limit)
	switch {
	case errors.Is(err, dlq.ErrNoTopic):
		entries, err = nil, nil // nothing was ever dead-lettered
	case err != nil && ctx.Err() != nil && r.Context().Err() == nil:
		err = errors.New("reading " + h.DLQ.Topic() + " took longer than " + dlqTimeout.String() + " (is Kafka reachable?): " + err.Error())
	}
	if err != nil {
		h.Logger.Warn("debug dlq", zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "cannot read the DLQ: "+err.Error())
		return
	}
	out := struct {
		Items []dlqItemJSON `json:"items"`
		Topic string        `json:"topic"`
	}{Items: make([]dlqItemJSON, 0, len(entries)), Topic: h.DLQ.Topic()}
	for _, e := range entries {
		out.Items = append(out.Items, dlqItem(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func dlqItem(e dlq.Entry) dlqItemJSON {
	it := dlqItemJSON{Partition: e.Partition, Offset: e.Offset, Time: e.Time.UTC().Format(dlqTimeMillis),
		Stage: e.Stage, Reason: e.Reason, ValuePreview: dlq.Text(e.Value, dlqPreview), ValueBytes: len(e.Value),
		Foreign: e.Foreign, Replays: e.Replays}
	if !e.FailedAt.IsZero() {
		s := e.FailedAt.UTC().Format(time.RFC3339)
		it.FailedAt = &s
	}
	if !e.Foreign {
		it.Source = &dlqSourceJSON{Topic: e.Source.Topic, Partition: e.Source.Partition, Offset: e.Source.Offset}
	}
	if e.Key != nil {
		k := dlq.Text(e.Key, dlqPreview)
		it.Key = &k
	}
	return it
}

// dlqTimeMillis is RFC 3339 with milliseconds.
const dlqTimeMillis = "2006-01-02T15:04:05.000Z07:00"
