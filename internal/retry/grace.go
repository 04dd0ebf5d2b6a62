package retry

import (
	"context"
	"time"
)

// WithGrace returns a context for finishing work in hand at shutdown: it is
// not cancelled with ctx, but grace after ctx ends, or when the returned
// cancel is called. Callers stop taking new work when ctx ends and finish
// what they hold under the returned context.
func WithGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-work.Done():
		case <-ctx.Done():
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-work.Done():
			}
		}
	}()
	return work, cancel
}
