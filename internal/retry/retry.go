// Package retry holds the one backoff policy the service uses for transient
// failures: exponential with full jitter, capped, and cancelled by the context.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff with full jitter.
type Backoff struct {
	Min, Max time.Duration
}

// Default is used where a caller has no reason to choose.
var Default = Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second}

// Delay returns the wait before retry number attempt (0-based).
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Min
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	// Full jitter spreads reconnecting instances so they do not hit a recovering
	// broker or registry in lockstep; half the delay stays fixed so it still grows.
	return d/2 + rand.N(d/2+1)
}

// Wait sleeps for the attempt's delay or until ctx is done, returning ctx's error then.
func (b Backoff) Wait(ctx context.Context, attempt int) error {
	t := time.NewTimer(b.Delay(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
