package redissink

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// mergeScript sums the window's buckets into a temporary key, keeps the
// highest ARGV[1] members (0: all), and renames it over the top key; an
// empty window deletes the top key. KEYS: top, temporary, state, buckets.
// It returns the members in the window and whether the state key exists.
var mergeScript = redis.NewScript(`
local n = redis.call('ZUNIONSTORE', KEYS[2], #KEYS - 3, unpack(KEYS, 4))
if n == 0 then
  redis.call('DEL', KEYS[1])
else
  local top = tonumber(ARGV[1])
  if top > 0 and n > top then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - top - 1) end
  redis.call('RENAME', KEYS[2], KEYS[1])
end
return {n, redis.call('EXISTS', KEYS[3])}
`)

// bucketKeys returns the fewest bucket keys whose union is exactly the
// window: minute buckets for the minutes wholly inside it, second buckets at
// its two ragged ends (at most 59 + 59 + window/60 keys).
func (k keys) bucketKeys(w window) []string {
	out := make([]string, 0, 2*59+w.size/60+1)
	for s := w.lo; s <= w.hi; {
		if m := minuteOf(s); m*60 == s && s+59 <= w.hi {
			out = append(out, k.minute+strconv.FormatInt(m, 10))
			s += 60
			continue
		}
		out = append(out, k.second+strconv.FormatInt(s, 10))
		s++
	}
	return out
}

// mergeLoop merges after applied batches (at most once per MergeGap) and at
// least every MergeInterval, so the window slides when no record arrives.
func (s *Sink) mergeLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.MergeInterval)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.dirty:
			if wait := s.cfg.MergeGap - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		last = time.Now()
		if err := s.merge(ctx); err != nil && ctx.Err() == nil {
			s.m.retries.WithLabelValues("merge").Inc()
			s.log.Warn("merge the window into the top key; retrying at the next tick", zap.Error(err))
		}
	}
}

// merge rebuilds the top key from the buckets in the window as of Now, then
// observes the freshness of every record applied before it started.
func (s *Sink) merge(ctx context.Context) error {
	s.mu.Lock()
	batch := s.pending
	s.pending = s.spare[:0]
	s.mu.Unlock()

	w := windowAt(s.cfg.Now(), s.cfg.Window)
	ks := append([]string{s.k.top, s.k.tmp, s.k.state}, s.k.bucketKeys(w)...)
	start := time.Now()
	res, err := mergeScript.Run(ctx, s.cfg.Redis, ks, s.cfg.Top).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("merge script answered %d values", len(res))
	}
	if err != nil {
		s.mu.Lock()
		s.pending = append(batch, s.pending...) // measured by the next merge that succeeds
		s.mu.Unlock()
		return err
	}
	done := time.Now()
	s.m.mergeTime.Observe(done.Sub(start).Seconds())
	s.m.members.Set(float64(res[0]))
	for _, ts := range batch {
		s.m.freshness.Observe(float64(done.UnixNano()-ts) / 1e9)
	}
	s.mu.Lock()
	s.spare = batch[:0]
	s.mu.Unlock()
	if res[1] == 0 {
		s.triggerRebuild()
	}
	return nil
}
