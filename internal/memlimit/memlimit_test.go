package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	c := Config{Floor: 256 << 20, Headroom: 192 << 20, Every: time.Second}
	for _, tc := range []struct {
		name string
		live int64
		want int64
	}{
		{"nothing live yet", 0, 256 << 20},
		{"a small view stays at the floor", 50 << 20, 256 << 20},
		{"a large view gets the headroom above its heap", 225 << 20, 417 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Limit(tc.live); got != tc.want {
				t.Errorf("Limit(%d) = %d, want %d", tc.live, got, tc.want)
			}
		})
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"no floor", Config{Headroom: 1, Every: time.Second}, "floor"},
		{"no headroom", Config{Floor: 1, Every: time.Second}, "headroom"},
		{"no interval", Config{Floor: 1, Headroom: 1}, "interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Keep(context.Background(), tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestKeepFollowsLiveHeap grows the live heap past what the floor allows and
// waits for Keep to raise the limit above it, then lets it go and waits for
// the limit to come back down to the floor.
func TestKeepFollowsLiveHeap(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan int64, 64)
	done := make(chan error, 1)
	const floor = 64 << 20
	go func() {
		done <- Keep(ctx, Config{Floor: floor, Headroom: 32 << 20, Every: 5 * time.Millisecond,
			OnChange: func(limit, _ int64) { changes <- limit }})
	}()
	defer func() { cancel(); <-done }()

	wait := func(what string, ok func(int64) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			runtime.GC() // the live heap is measured by a GC cycle
			select {
			case l := <-changes:
				if ok(l) && debug.SetMemoryLimit(-1) == l {
					return
				}
			case <-deadline:
				t.Fatalf("no limit %s within 10s; now %d", what, debug.SetMemoryLimit(-1))
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	wait("at the floor", func(l int64) bool { return l == floor })
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = 1 // touched, so it is heap the test really holds
	}
	wait("above 64+32 MiB", func(l int64) bool { return l >= 96<<20 && l != math.MaxInt64 })
	runtime.KeepAlive(ballast)
	ballast = nil
	wait("back at the floor", func(l int64) bool { return l == floor })
}
