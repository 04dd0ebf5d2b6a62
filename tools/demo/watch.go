package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	redissink "github.com/thmanyah/enricher/sink/redis"
	"github.com/thmanyah/enricher/tools/receiver"
)

// watcher prints the status line every so often, and the moments the
// first enriched event, the first Redis ranking and the first delivery to
// the receiver were seen (polled every 100ms, so that late at most).
type watcher struct {
	out       io.Writer
	start     time.Time
	every     time.Duration
	svc       prometheus.Gatherer
	rdb       *redis.Client // nil: no Redis
	recv      *receiver.Receiver
	generated func() int64
}

// top is the number of members of engagement:top:10m; -1 without Redis or
// when Redis did not answer.
func (w *watcher) top(ctx context.Context) int64 {
	if w.rdb == nil {
		return -1
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n, err := w.rdb.ZCard(ctx, redissink.DefaultTopKey).Result()
	if err != nil {
		return -1
	}
	return n
}

func (w *watcher) run(ctx context.Context) error {
	status := time.NewTicker(w.every)
	defer status.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	prev, prevAt := readCounts(w.svc), time.Now()
	var enriched, ranked, delivered, legendShown bool
	ranked = w.rdb == nil // nothing to wait for
	since := func() string { return fmt.Sprintf("%.1fs", time.Since(w.start).Seconds()) }
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			if !enriched && readCounts(w.svc).out > 0 {
				enriched = true
				fmt.Fprintf(w.out, "first enriched event after %s (written to processed_engagements)\n", since())
			}
			if !ranked && w.top(ctx) > 0 {
				ranked = true
				fmt.Fprintf(w.out, "first redis ranking after %s (%s has members)\n", since(), redissink.DefaultTopKey)
			}
			if !delivered && w.recv.Stats().Events > 0 {
				delivered = true
				fmt.Fprintf(w.out, "first external delivery after %s (the receiver accepted a batch from the http sink)\n", since())
			}
			if enriched && ranked && delivered {
				poll.Stop()
			}
		case now := <-status.C:
			if !legendShown {
				legendShown = true
				fmt.Fprintln(w.out, legend)
			}
			cur := readCounts(w.svc)
			s := sinkCounts{top: w.top(ctx), delivered: w.recv.Stats().Events}
			fmt.Fprintln(w.out, statusLine(prev, cur, now.Sub(prevAt), s, w.generated()))
			prev, prevAt = cur, now
		}
	}
}

// downstream fills in what the sinks and the receiver hold.
func (w *watcher) downstream(ctx context.Context, s *summary) {
	s.top = w.top(ctx)
	st := w.recv.Stats()
	s.delivered, s.batches = st.Events, st.Batches
}
