package retry

import (
	"context"
	"errors"
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

func TestDo(t *testing.T) {
	fast := Backoff{Min: time.Microsecond, Max: time.Microsecond}
	errTemp, errFinal := errors.New("temporary"), errors.New("final")
	isTemp := func(err error) bool { return err == errTemp }
	for _, tc := range []struct {
		name     string
		results  []error // op's answers in turn
		cancel   bool
		want     error
		attempts int
	}{
		{"succeeds after retries", []error{errTemp, errTemp, nil}, false, nil, 3},
		{"final error returned at once", []error{errTemp, errFinal}, false, errFinal, 2},
		{"stopped", []error{errTemp}, true, ErrStopped, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n, retried := 0, 0
			err := fast.Do(ctx, context.Background(), func(context.Context) error {
				err := tc.results[min(n, len(tc.results)-1)]
				n++
				if tc.cancel {
					cancel()
				}
				return err
			}, isTemp, func(int, error) { retried++ })
			if err != tc.want || n != tc.attempts {
				t.Fatalf("got %v after %d attempts, want %v after %d", err, n, tc.want, tc.attempts)
			}
			if tc.want == nil && retried != tc.attempts-1 {
				t.Fatalf("onRetry heard %d failures, want %d", retried, tc.attempts-1)
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

func TestWithGrace(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	work, cancel := WithGrace(ctx, 50*time.Millisecond)
	defer cancel()
	stop()
	select {
	case <-work.Done():
		t.Fatal("work context ended with its parent, not after the grace period")
	default:
	}
	select {
	case <-work.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("work context outlived the grace period")
	}

	work2, cancel2 := WithGrace(context.Background(), time.Hour)
	cancel2()
	select {
	case <-work2.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not end the work context")
	}
}
