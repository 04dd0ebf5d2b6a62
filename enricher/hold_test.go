package enricher

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/debezium"
)

// missItem is a decoded event about content id that the view does not hold.
func missItem(off int64, id uuid.UUID) *item {
	it := &item{msg: &kafka.Message{Topic: "in", Offset: off, Key: []byte("k"), Value: make([]byte, 100)}}
	it.ev.Event.ContentID = uuid.NullUUID{UUID: id, Valid: true}
	it.ev.Kind = debezium.KindChange
	return it
}

func newTestHold(t *testing.T, wait time.Duration, maxEvents int, maxBytes int64) *hold {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := newHold(ctx, wait, maxEvents, maxBytes, nil, newMetrics(nil), zap.NewNop())
	t.Cleanup(func() { cancel(); h.close() })
	return h
}

// waitWake waits for the hold to signal, failing after d.
func waitWake(t *testing.T, h *hold, d time.Duration) {
	t.Helper()
	select {
	case <-h.wake:
	case <-time.After(d):
		t.Fatalf("the hold did not signal within %v", d)
	}
}

func offsets(evs []*heldEvent) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.msg.Offset)
	}
	return out
}

func TestHoldReleasesOnTheContentsArrival(t *testing.T) {
	h := newTestHold(t, time.Hour, 10, 1<<20)
	a, b := uuid.New(), uuid.New()
	for i, id := range []uuid.UUID{a, b, a} {
		if !h.add(missItem(int64(i), id), nil, time.Now()) {
			t.Fatalf("add %d refused", i)
		}
	}
	h.applied([]uuid.UUID{uuid.New()}) // another content: nothing leaves
	if got := h.take(nil); len(got) != 0 {
		t.Fatalf("released %v on an unrelated change", offsets(got))
	}
	h.applied([]uuid.UUID{a})
	waitWake(t, h, time.Second)
	got := h.take(nil)
	if o := offsets(got); len(o) != 2 || o[0] != 0 || o[1] != 2 {
		t.Fatalf("released %v; want [0 2], the events about a", o)
	}
	h.done(got)
	if h.n != 1 {
		t.Fatalf("%d held; want 1", h.n)
	}
	h.applied([]uuid.UUID{a}) // a again: nothing more about it
	if got := h.take(nil); len(got) != 0 {
		t.Fatalf("released %v twice", offsets(got))
	}
}

func TestHoldReleasesAtTheDeadlineInOrder(t *testing.T) {
	const wait = 50 * time.Millisecond
	h := newTestHold(t, wait, 10, 1<<20)
	start := time.Now()
	for i := range 3 {
		h.add(missItem(int64(i), uuid.New()), nil, start.Add(time.Duration(i)*time.Millisecond))
	}
	var got []int64
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		waitWake(t, h, 5*time.Second)
		got = append(got, offsets(h.take(nil))...)
	}
	if len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("released %v; want [0 1 2]", got)
	}
	if since := time.Since(start); since < wait {
		t.Fatalf("released after %v, before the wait of %v", since, wait)
	}
}

func TestHoldBounds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxEvents int
		maxBytes  int64
		fits      int
	}{
		{"by count", 2, 1 << 20, 2},
		{"by bytes", 100, 2 * (100 + 1 + 512), 2},
		{"one byte short", 100, 2*(100+1+512) - 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHold(t, time.Hour, tc.maxEvents, tc.maxBytes)
			n := 0
			for i := range 5 {
				if h.add(missItem(int64(i), uuid.New()), nil, time.Now()) {
					n++
				}
			}
			if n != tc.fits {
				t.Fatalf("held %d; want %d", n, tc.fits)
			}
		})
	}
}

func TestHoldCloseDropsEverything(t *testing.T) {
	h := newTestHold(t, time.Hour, 10, 1<<20)
	id := uuid.New()
	h.add(missItem(0, id), nil, time.Now())
	h.close()
	if h.add(missItem(1, id), nil, time.Now()) {
		t.Fatal("a closed hold took an event")
	}
	h.applied([]uuid.UUID{id})
	if got := h.take(nil); len(got) != 0 {
		t.Fatalf("a closed hold released %v", offsets(got))
	}
}
