package enricher

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/debezium"
)

// heldEvent is an event waiting for its content: a miss (the content is not
// in the view) or a provisional hit (the event is newer than anything the
// view applied, so a newer version may still be on its way).
type heldEvent struct {
	msg         kafka.Message // a copy: the batch's buffers are reused
	ev          debezium.EngagementEvent
	ps          *partState
	provisional bool
	since       time.Time // when it was read; it waits JoinWait from here
	size        int64
	released    bool
}

// hold keeps the events waiting for late content, per event: the events
// behind a held one go on. An event leaves the hold when a change of its
// content is applied to the view (OnApply: at once, no polling), when the
// view has caught up with the content topic's end as read after the event
// was held (provisional ones only), or when JoinWait has passed since it was
// read. It is bounded: an event that does not fit is not held (add says so)
// and is emitted as it is. A hold lives as long as one generation: at a
// rebalance or a shutdown its events are dropped, uncommitted, and read
// again by the partition's next owner.
type hold struct {
	wait      time.Duration
	maxEvents int
	maxBytes  int64
	fresh     Freshness
	m         *metrics
	log       *zap.Logger
	ctx       context.Context
	wake      chan struct{} // signalled when events are ready to leave

	mu          sync.Mutex
	byID        map[uuid.UUID][]*heldEvent // waiting, oldest first (released ones dropped lazily)
	queue       []*heldEvent               // every held event in the order held: deadline order
	prov        []*heldEvent               // provisional ones in the order held
	ready       []*heldEvent
	n           int
	bytes       int64
	timer       *time.Timer
	caughtUpRun bool // a caught-up wait is running
	closed      bool
}

func newHold(ctx context.Context, wait time.Duration, maxEvents int, maxBytes int64, fresh Freshness, m *metrics, log *zap.Logger) *hold {
	return &hold{wait: wait, maxEvents: maxEvents, maxBytes: maxBytes, fresh: fresh, m: m, log: log, ctx: ctx,
		wake: make(chan struct{}, 1), byID: map[uuid.UUID][]*heldEvent{}}
}

func (h *hold) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// add holds the event it of ps read at since; false when the hold is full.
func (h *hold) add(it *item, ps *partState, since time.Time) bool {
	size := int64(len(it.msg.Key)+len(it.msg.Value)) + 512
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.n >= h.maxEvents || h.bytes+size > h.maxBytes {
		return false
	}
	he := &heldEvent{msg: *it.msg, ev: it.ev, ps: ps, provisional: it.found, since: since, size: size}
	he.msg.Headers = nil // the input's headers are not needed again
	h.n++
	h.bytes += size
	h.m.held.Set(float64(h.n))
	h.m.heldBytes.Set(float64(h.bytes))
	id := it.ev.Event.ContentID.UUID
	h.byID[id] = append(h.byID[id], he)
	h.queue = append(h.queue, he)
	if he.provisional {
		h.prov = append(h.prov, he)
		if !h.caughtUpRun {
			h.caughtUpRun = true
			go h.waitCaughtUp()
		}
	}
	if h.timer == nil {
		h.timer = time.AfterFunc(time.Until(since.Add(h.wait)), h.expire)
	} else if len(h.queue) == 1 {
		h.timer.Reset(time.Until(since.Add(h.wait)))
	}
	return true
}

// release marks he ready to leave; h.mu is held.
func (h *hold) release(he *heldEvent) {
	if he.released {
		return
	}
	he.released = true
	h.ready = append(h.ready, he)
	// Drop released events from the fronts of the queues they are in, so
	// events whose content never comes do not pin memory.
	id := he.ev.Event.ContentID.UUID
	l := h.byID[id]
	for len(l) > 0 && l[0].released {
		l = l[1:]
	}
	if len(l) == 0 {
		delete(h.byID, id)
	} else {
		h.byID[id] = l
	}
	for len(h.prov) > 0 && h.prov[0].released {
		h.prov = h.prov[1:]
	}
}

// applied releases the events waiting for the content ids just applied.
func (h *hold) applied(ids []uuid.UUID) {
	h.mu.Lock()
	n := len(h.ready)
	for _, id := range ids {
		for _, he := range h.byID[id] {
			h.release(he)
		}
	}
	more := len(h.ready) > n
	h.mu.Unlock()
	if more {
		h.signal()
	}
}

// expire releases the events whose wait is over and sets the timer for the next.
func (h *hold) expire() {
	h.mu.Lock()
	now := time.Now()
	n := len(h.ready)
	for len(h.queue) > 0 {
		he := h.queue[0]
		if !he.released && he.since.Add(h.wait).After(now) {
			h.timer.Reset(he.since.Add(h.wait).Sub(now))
			break
		}
		h.release(he)
		h.queue[0] = nil
		h.queue = h.queue[1:]
	}
	more := len(h.ready) > n
	h.mu.Unlock()
	if more {
		h.signal()
	}
}

// waitCaughtUp runs while provisional events are held: it waits for the view
// to reach the content topic's end as read now, and then releases every
// provisional event held before that read. One wait serves every event held
// meanwhile, whatever the rate.
func (h *hold) waitCaughtUp() {
	for attempt := 0; ; attempt++ {
		h.mu.Lock()
		if h.closed || len(h.prov) == 0 {
			h.caughtUpRun = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		start := time.Now()
		ctx, cancel := context.WithTimeout(h.ctx, h.wait)
		h.m.joinWaiting.Inc()
		err := h.fresh.WaitCaughtUp(ctx)
		h.m.joinWaiting.Dec()
		cancel()
		h.m.joinWaitTime.Observe(time.Since(start).Seconds())
		outcome := "caught_up"
		switch {
		case err == nil:
			attempt = -1
		case errors.Is(err, context.DeadlineExceeded) && h.ctx.Err() == nil:
			outcome = "timeout"
		case h.ctx.Err() != nil:
			h.mu.Lock()
			h.caughtUpRun = false
			h.mu.Unlock()
			return
		default:
			outcome = "error"
			h.log.Warn("wait for the content view", zap.Error(err))
		}
		h.m.joinWaits.WithLabelValues(outcome).Inc()
		if err != nil {
			// The held events leave at their deadline anyway; try again
			// soon, not in a tight loop while Kafka does not answer.
			t := time.NewTimer(min(100*time.Millisecond<<min(attempt, 4), time.Second))
			select {
			case <-t.C:
			case <-h.ctx.Done():
				t.Stop()
			}
			continue
		}
		h.mu.Lock()
		n := len(h.ready)
		for _, he := range h.prov {
			if he.since.After(start) {
				break
			}
			h.release(he)
		}
		more := len(h.ready) > n
		h.mu.Unlock()
		if more {
			h.signal()
		}
	}
}

// take appends the events ready to leave to dst.
func (h *hold) take(dst []*heldEvent) []*heldEvent {
	h.mu.Lock()
	dst = append(dst, h.ready...)
	clear(h.ready)
	h.ready = h.ready[:0]
	h.mu.Unlock()
	return dst
}

// done forgets events that left and were delivered.
func (h *hold) done(evs []*heldEvent) {
	if len(evs) == 0 {
		return
	}
	now := time.Now()
	h.mu.Lock()
	for _, he := range evs {
		h.n--
		h.bytes -= he.size
		h.m.holdTime.Observe(now.Sub(he.since).Seconds())
	}
	h.m.held.Set(float64(h.n))
	h.m.heldBytes.Set(float64(h.bytes))
	h.mu.Unlock()
}

// close drops every held event: they were never delivered, so no commit
// passed them and the partition's next owner reads them again.
func (h *hold) close() {
	h.mu.Lock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	h.n, h.bytes = 0, 0
	h.m.held.Set(0)
	h.m.heldBytes.Set(0)
	h.byID, h.queue, h.prov, h.ready = nil, nil, nil, nil
	h.mu.Unlock()
}
