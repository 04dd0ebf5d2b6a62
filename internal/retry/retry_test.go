package retry

import (
	"context"
	"testing"
	"time"
)

func TestDelayBounds(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for _, tc := range []struct {
		name    string
		attempt int
		lo, hi  time.Duration
	}{
		{"first", 0, 5 * time.Millisecond, 10 * time.Millisecond},
		{"third", 2, 20 * time.Millisecond, 40 * time.Millisecond},
		{"capped", 30, 40 * time.Millisecond, 80 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 100; i++ {
				if d := b.Delay(tc.attempt); d < tc.lo || d > tc.hi {
					t.Fatalf("got %v, want within [%v, %v]", d, tc.lo, tc.hi)
				}
			}
		})
	}
}

func TestWaitCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Backoff{Min: time.Hour, Max: time.Hour}).Wait(ctx, 0); err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
