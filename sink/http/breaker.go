package httpsink

import (
	"context"
	"sync"
	"time"
)

// BreakerState is the circuit breaker's state.
type BreakerState int

const (
	BreakerClosed   BreakerState = iota // requests flow
	BreakerHalfOpen                     // one probe request is allowed
	BreakerOpen                         // no requests until the cool-down ends
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

// verdict is what one request tells the breaker about the endpoint.
type verdict int

const (
	verdictOK      verdict = iota // the endpoint answered (2xx, or a 4xx about the batch)
	verdictFail                   // 5xx, 408, timeout, connection failure
	verdictNeutral                // 429: alive but throttling; Retry-After handles it
)

// breaker opens after threshold consecutive failures, stays open for
// cooldown, then lets exactly one probe through (half-open): the probe's
// success closes it, its failure opens it again. Callers wait while it is
// open instead of failing, so an outage costs time, not retries; only probes
// spend a batch's retry budget.
type breaker struct {
	threshold int
	cooldown  time.Duration
	onChange  func(BreakerState)

	mu       sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
	probing  bool
	changed  chan struct{} // closed and replaced at every state change or probe end
}

func newBreaker(threshold int, cooldown time.Duration, onChange func(BreakerState)) *breaker {
	if onChange == nil {
		onChange = func(BreakerState) {}
	}
	b := &breaker{threshold: threshold, cooldown: cooldown, onChange: onChange, changed: make(chan struct{})}
	onChange(BreakerClosed)
	return b
}

// State returns the current state.
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// allow waits until a request may be sent. probe is true when the caller is
// the half-open probe; it must then call done(true, ...) or abandon().
func (b *breaker) allow(ctx context.Context) (probe bool, err error) {
	for {
		b.mu.Lock()
		var wait time.Duration
		switch b.state {
		case BreakerClosed:
			b.mu.Unlock()
			return false, nil
		case BreakerOpen:
			if wait = b.cooldown - time.Since(b.openedAt); wait <= 0 {
				b.setLocked(BreakerHalfOpen)
				b.probing = true
				b.mu.Unlock()
				return true, nil
			}
		case BreakerHalfOpen:
			if !b.probing {
				b.probing = true
				b.mu.Unlock()
				return true, nil
			}
		}
		ch := b.changed
		b.mu.Unlock()
		var timer *time.Timer
		var fire <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-ch:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return false, err
		}
	}
}

// done reports a request's verdict.
func (b *breaker) done(probe bool, v verdict) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		if v == verdictOK {
			b.failures = 0
			b.setLocked(BreakerClosed)
		} else {
			b.openedAt = time.Now()
			b.setLocked(BreakerOpen)
		}
		return
	}
	if b.state != BreakerClosed {
		return // a request that started before the breaker opened says nothing new
	}
	switch v {
	case verdictOK:
		b.failures = 0
	case verdictFail:
		if b.failures++; b.failures >= b.threshold {
			b.openedAt = time.Now()
			b.setLocked(BreakerOpen)
		}
	}
}

// abandon gives the probe slot back when the prober stops before sending.
func (b *breaker) abandon(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.wakeLocked()
	b.mu.Unlock()
}

func (b *breaker) setLocked(s BreakerState) {
	if b.state != s {
		b.state = s
		b.onChange(s)
	}
	b.wakeLocked()
}

func (b *breaker) wakeLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}
