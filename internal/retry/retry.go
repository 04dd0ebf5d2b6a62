// Package retry holds the one backoff policy the service uses for transient
// failures: exponential with full jitter, capped, and cancelled by the context;
// and WithGrace, the context under which work in hand is finished at shutdown.
package retry

import (
	"context"
	"errors"
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
	return Sleep(ctx, b.Delay(attempt))
}

// Sleep sleeps for d or until ctx is done, returning ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrStopped is what Do returns when ctx ended before op succeeded.
var ErrStopped = errors.New("stopped before success")

// Do runs op until it succeeds, fails with an error retryable does not
// accept (returned as is; nil retryable accepts every error), or ctx ends
// (ErrStopped). op runs under opCtx, which may outlive ctx so that an attempt
// in flight at shutdown can still finish. onRetry, when set, hears of every
// failure that will be retried, for logs and metrics.
func (b Backoff) Do(ctx, opCtx context.Context, op func(context.Context) error, retryable func(error) bool, onRetry func(attempt int, err error)) error {
	for attempt := 0; ; attempt++ {
		err := op(opCtx)
		if err == nil {
			return nil
		}
		if retryable != nil && !retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return ErrStopped
		}
		if onRetry != nil {
			onRetry(attempt, err)
		}
		if b.Wait(ctx, attempt) != nil {
			return ErrStopped
		}
	}
}
