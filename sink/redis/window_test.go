package redissink

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBucketKeysCoverTheWindow expands the merge's keys back into seconds:
// each second of the window exactly once, nothing else, and few keys.
func TestBucketKeysCoverTheWindow(t *testing.T) {
	k := newKeys(&SinkConfig{TopKey: DefaultTopKey, Prefix: "engagement:"})
	base := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		now    time.Time
		window time.Duration
	}{
		{"on a minute", base, 10 * time.Minute},
		{"one second past", base.Add(time.Second), 10 * time.Minute},
		{"mid minute with millis", base.Add(37*time.Second + 421*time.Millisecond), 10 * time.Minute},
		{"last second of a minute", base.Add(59*time.Second + 999*time.Millisecond), 10 * time.Minute},
		{"short window", base.Add(30 * time.Second), 90 * time.Second},
		{"one second window", base.Add(5 * time.Second), time.Second},
		{"before the epoch", time.Unix(-3601, 0), 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := windowAt(tc.now, tc.window)
			if got := w.hi - w.lo + 1; got != int64(tc.window/time.Second) {
				t.Fatalf("window holds %d seconds, want %d", got, int64(tc.window/time.Second))
			}
			seen := map[int64]int{}
			keys := k.bucketKeys(w)
			for _, key := range keys {
				switch {
				case strings.HasPrefix(key, k.minute):
					m, _ := strconv.ParseInt(strings.TrimPrefix(key, k.minute), 10, 64)
					for s := m * 60; s < m*60+60; s++ {
						seen[s]++
					}
				case strings.HasPrefix(key, k.second):
					s, _ := strconv.ParseInt(strings.TrimPrefix(key, k.second), 10, 64)
					seen[s]++
				default:
					t.Fatalf("unexpected key %q", key)
				}
			}
			for s := w.lo; s <= w.hi; s++ {
				if seen[s] != 1 {
					t.Errorf("second %d covered %d times, want once", s, seen[s])
				}
				delete(seen, s)
			}
			if len(seen) > 0 {
				t.Errorf("%d seconds outside the window covered", len(seen))
			}
			if limit := 2*59 + int(tc.window/time.Minute); len(keys) > limit {
				t.Errorf("%d keys, want at most %d", len(keys), limit)
			}
		})
	}
}

func TestSecondsAndMinutes(t *testing.T) {
	for _, tc := range []struct {
		ms       int64
		sec, min int64
	}{
		{0, 0, 0}, {999, 0, 0}, {1000, 1, 0}, {59_999, 59, 0}, {60_000, 60, 1},
		{-1, -1, -1}, {-1000, -1, -1}, {-1001, -2, -1}, {-60_000, -60, -1}, {-60_001, -61, -2},
	} {
		if got := seconds(time.UnixMilli(tc.ms)); got != tc.sec {
			t.Errorf("seconds(%d ms) = %d, want %d", tc.ms, got, tc.sec)
		}
		if got := minuteOf(tc.sec); got != tc.min {
			t.Errorf("minuteOf(%d) = %d, want %d", tc.sec, got, tc.min)
		}
	}
}

func TestWindowAcceptsAndTTL(t *testing.T) {
	now := time.Unix(10_000, 500_000_000)
	w := windowAt(now, 10*time.Minute)
	for _, tc := range []struct {
		sec  int64
		want bool
	}{
		{10_000, true}, {9_401, true}, {9_400, false}, {10_600, true}, {10_601, false},
	} {
		if got := w.accepts(tc.sec); got != tc.want {
			t.Errorf("accepts(%d) = %v, want %v", tc.sec, got, tc.want)
		}
	}
	// A bucket of the current second lives one window plus the grace period
	// beyond its second, measured from now.
	if got, want := w.ttl(10_000), int64(600_000+60_000-500); got != want {
		t.Errorf("ttl = %d ms, want %d", got, want)
	}
	if got := w.ttl(1); got != 1000 {
		t.Errorf("ttl of a long-gone second = %d ms, want the 1000 ms floor", got)
	}
}
