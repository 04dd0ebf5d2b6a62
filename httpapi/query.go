package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/store"
)

// QueryView is the part of the view the queries read beyond View;
// *store.Store is one.
type QueryView interface {
	History(id uuid.UUID) ([]store.Version, error)
	VersionAt(id uuid.UUID, tsMs int64) (store.Version, store.At, error)
	Search(prefix string, after uuid.UUID, limit int) ([]store.Record, uuid.UUID, error)
}

// JoinAnswer is what the join would do with an event, for /debug/join.
type JoinAnswer struct {
	Mode     string // "asof" or "latest"
	Decision string // "hit", "miss" or "held"
	Reason   string
	Version  *store.Version // what the join would use; nil for none
}

// ErrUnavailable, wrapped by Config.Explain's error, makes /debug/join
// answer 503 with the error's text (e.g. before the enricher runs).
var ErrUnavailable = errors.New("unavailable")

// maxPrefix bounds a search prefix: no slug or title a person types is
// longer, and the scan compares it against every row.
const maxPrefix = 256

// maxTimeMs is 9999-12-31T23:59:59.999Z, the last instant RFC 3339 can write.
const maxTimeMs = 253402300799999

const timeHint = "want RFC 3339 (2025-03-10T09:15:00Z, any offset, fractional seconds allowed) or epoch milliseconds (digits only)"

// queryRoutes registers as-of, history, join explanation and search queries over the view.
func (h *handler) queryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/content/{id}/history", h.history)
	mux.HandleFunc("GET /debug/join", h.join)
}

// queries is Config.Queries, or View when it can answer them; nil if neither.
func (h *handler) queries(w http.ResponseWriter) QueryView {
	if h.Queries != nil {
		return h.Queries
	}
	if q, ok := h.View.(QueryView); ok {
		return q
	}
	writeError(w, http.StatusNotImplemented, "this view cannot answer history, as-of or search queries")
	return nil
}

// parseTime reads T of the query API: RFC 3339 or epoch milliseconds.
func parseTime(name, s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("%s is empty; %s", name, timeHint)
	}
	if strings.Trim(s, "0123456789") == "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms > maxTimeMs {
			return 0, fmt.Errorf("%s %s is out of range: epoch milliseconds past year 9999", name, strconv.Quote(truncate(s)))
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		hint := ""
		if strings.Contains(s, " ") {
			hint = " (a + in a URL query must be written %2B)"
		}
		return 0, fmt.Errorf("%s %s is not a time%s; %s", name, strconv.Quote(truncate(s)), hint, timeHint)
	}
	ms := t.UnixMilli()
	if ms > maxTimeMs {
		return 0, fmt.Errorf("%s %s is out of range: past year 9999 in UTC", name, strconv.Quote(truncate(s)))
	}
	return ms, nil
}

func fmtMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// versionJSON is contentJSON of a version, with where it sits in the row's history.
type versionJSON struct {
	contentJSON
	Seq       uint64 `json:"seq"`
	ValidFrom string `json:"valid_from"`
	Op        string `json:"op"`
}

func toVersionJSON(id uuid.UUID, v *store.Version) versionJSON {
	return versionJSON{
		contentJSON: toJSON(store.Record{ID: id, Row: v.Row, Source: v.Source}),
		Seq:         v.Seq,
		ValidFrom:   fmtMs(v.ValidFromMs),
		Op:          v.Op.String(),
	}
}

// contentAsOf answers GET /debug/content/{id}?as_of=T.
func (h *handler) contentAsOf(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	ms, err := parseTime("as_of", r.URL.Query().Get("as_of"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	qv := h.queries(w)
	if qv == nil {
		return
	}
	v, at, err := qv.VersionAt(id, ms)
	if err != nil {
		h.Logger.Error("debug content as of", zap.Stringer("id", id), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "read view: "+err.Error())
		return
	}
	switch {
	case at == store.AtUnknown:
		writeError(w, http.StatusNotFound, "content "+id.String()+" is not in the view")
	case at == store.AtBefore:
		writeError(w, http.StatusNotFound, fmt.Sprintf("as_of %s precedes the first version of content %s (seq %d, valid from %s); the join would use that oldest version",
			fmtMs(ms), id, v.Seq, fmtMs(v.ValidFromMs)))
	case v.Deleted:
		writeError(w, http.StatusNotFound, fmt.Sprintf("content %s was not live at %s: the version valid then (seq %d, valid from %s) is a %s",
			id, fmtMs(ms), v.Seq, fmtMs(v.ValidFromMs), v.Op))
	default:
		writeJSON(w, http.StatusOK, toVersionJSON(id, &v))
	}
}

// rowJSON is contentJSON without its source.
type rowJSON struct {
	ID            string  `json:"id"`
	Slug          string  `json:"slug"`
	Title         string  `json:"title"`
	ContentType   *string `json:"content_type"`
	LengthSeconds *int32  `json:"length_seconds"`
	PublishTS     string  `json:"publish_ts"`
}

type historyVersionJSON struct {
	Seq         uint64     `json:"seq"`
	Op          string     `json:"op"`
	ValidFrom   string     `json:"valid_from"`
	ValidFromMs int64      `json:"valid_from_ms"`
	LSN         *int64     `json:"lsn"`
	Source      sourceJSON `json:"source"`
	Row         *rowJSON   `json:"row"`
}

func (h *handler) history(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := parseUUID(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "id is not a uuid: "+strconv.Quote(truncate(raw)))
		return
	}
	qv := h.queries(w)
	if qv == nil {
		return
	}
	vs, err := qv.History(id)
	if err != nil {
		h.Logger.Error("debug content history", zap.Stringer("id", id), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "read view: "+err.Error())
		return
	}
	if len(vs) == 0 {
		writeError(w, http.StatusNotFound, "content "+id.String()+" has no history in the view (never seen, or pruned)")
		return
	}
	out := struct {
		ID       string               `json:"id"`
		Versions []historyVersionJSON `json:"versions"`
	}{ID: id.String(), Versions: make([]historyVersionJSON, 0, len(vs))}
	for i := range vs {
		v := &vs[i]
		c := toJSON(store.Record{ID: id, Row: v.Row, Source: v.Source})
		hv := historyVersionJSON{Seq: v.Seq, Op: v.Op.String(), ValidFrom: fmtMs(v.ValidFromMs), ValidFromMs: v.ValidFromMs,
			LSN: c.Source.LSN, Source: c.Source}
		if !v.Deleted {
			hv.Row = &rowJSON{ID: c.ID, Slug: c.Slug, Title: c.Title, ContentType: c.ContentType, LengthSeconds: c.LengthSeconds, PublishTS: c.PublishTS}
		}
		out.Versions = append(out.Versions, hv)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) join(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	raw := q.Get("content_id")
	id, err := parseUUID(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "content_id is not a uuid: "+strconv.Quote(truncate(raw)))
		return
	}
	ms, err := parseTime("event_ts", q.Get("event_ts"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.Explain == nil {
		writeError(w, http.StatusServiceUnavailable, "join explanation is not configured")
		return
	}
	ans, err := h.Explain(id, ms)
	switch {
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		h.Logger.Error("debug join", zap.Stringer("id", id), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "explain join: "+err.Error())
		return
	}
	out := struct {
		ContentID string       `json:"content_id"`
		EventTs   string       `json:"event_ts"`
		Mode      string       `json:"mode"`
		Decision  string       `json:"decision"`
		Reason    string       `json:"reason"`
		Version   *versionJSON `json:"version"`
	}{ContentID: id.String(), EventTs: fmtMs(ms), Mode: ans.Mode, Decision: ans.Decision, Reason: ans.Reason}
	if ans.Version != nil {
		v := toVersionJSON(id, ans.Version)
		out.Version = &v
	}
	writeJSON(w, http.StatusOK, out)
}

// search answers GET /debug/content?q=PREFIX, paginated like the list. A
// page may hold fewer than limit items (none, even) with a next id: the
// store bounds the rows one call examines, and the client goes on from next.
func (h *handler) search(w http.ResponseWriter, prefix string, after uuid.UUID, limit int) {
	switch {
	case len(prefix) > maxPrefix:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("q is longer than %d bytes: %s", maxPrefix, strconv.Quote(truncate(prefix))))
		return
	case !utf8.ValidString(prefix):
		writeError(w, http.StatusBadRequest, "q is not valid utf-8: "+strconv.Quote(truncate(prefix)))
		return
	case strings.ContainsFunc(prefix, unicode.IsControl):
		writeError(w, http.StatusBadRequest, "q has a control character: "+strconv.Quote(truncate(prefix)))
		return
	}
	qv := h.queries(w)
	if qv == nil {
		return
	}
	// One more than asked tells whether a next page exists.
	recs, next, err := qv.Search(prefix, after, limit+1)
	if err != nil {
		h.Logger.Error("debug content search", zap.Error(err))
		writeError(w, http.StatusInternalServerError, "read view: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, newContentPage(recs, limit, next))
}
