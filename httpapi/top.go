package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// TopReader is the part of a Redis client /debug/top uses (a *redis.Client).
type TopReader interface {
	ZRevRangeWithScores(ctx context.Context, key string, start, stop int64) *redis.ZSliceCmd
}

// TopKey is the sorted set `enricher sink redis` keeps.
const TopKey = "engagement:top:10m"

// topTimeout bounds one Redis read: the console polls, so a Redis that hangs
// must cost a short wait and an "unavailable" answer, never piled-up requests.
const topTimeout = time.Second

type topItem struct {
	ContentID         string  `json:"content_id"`
	Title             *string `json:"title"` // null: not in the view
	EngagementSeconds float64 `json:"engagement_seconds"`
}

type topJSON struct {
	Available bool      `json:"available"`
	Reason    string    `json:"reason,omitempty"`
	Key       string    `json:"key"`
	Items     []topItem `json:"items"`
}

// top answers 200 whatever Redis does: a page polling an unreachable Redis
// must show why, not fill the logs and the browser with 5xx.
func (h *handler) top(w http.ResponseWriter, r *http.Request) {
	out := topJSON{Key: TopKey, Items: []topItem{}}
	if h.Redis == nil {
		out.Reason = "no Redis configured (--console-redis-url)"
		writeJSON(w, http.StatusOK, out)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), topTimeout)
	defer cancel()
	zs, err := h.Redis.ZRevRangeWithScores(ctx, TopKey, 0, 9).Result()
	if err != nil {
		out.Reason = "redis: " + err.Error()
		h.Logger.Debug("debug top", zap.Error(err))
		writeJSON(w, http.StatusOK, out)
		return
	}
	out.Available = true
	for _, z := range zs {
		member, _ := z.Member.(string)
		it := topItem{ContentID: member, EngagementSeconds: z.Score}
		if id, err := uuid.Parse(member); err == nil {
			if rec, ok, err := h.View.Get(id); err == nil && ok {
				it.Title = &rec.Row.Title
			}
		}
		out.Items = append(out.Items, it)
	}
	writeJSON(w, http.StatusOK, out)
}
