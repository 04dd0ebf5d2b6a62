package bench

import (
	"context"
	"path/filepath"
	"strconv"
	"time"

	"github.com/thmanyah/enricher/internal/kafkax"
)

// The scale steps: two instances in one group, and a view of many rows.

func (r *runner) twoInstances(ctx context.Context) error {
	out := "bench.out.two"
	if err := r.adm.create(ctx, kafkax.Topic(out, r.cfg.Partitions, "")); err != nil {
		return err
	}
	defer r.adm.remove(ctx, out)
	var kids []*child
	defer func() {
		for _, k := range kids {
			k.stop()
		}
	}()
	for i := range 2 {
		c, err := r.startRun("enricher "+strconv.Itoa(i+1)+" of 2", "two-"+strconv.Itoa(i+1), filepath.Join(r.dir, "two-"+strconv.Itoa(i)), "bench-two", out, false)
		if err != nil {
			return err
		}
		kids = append(kids, c)
	}
	for _, k := range kids {
		if _, err := k.waitReady(ctx, 5*time.Minute); err != nil {
			return err
		}
	}
	t, err := r.throughput(ctx, out, int64(r.cfg.Events), kids...)
	if err != nil {
		return err
	}
	for _, k := range kids {
		b, _ := k.stop()
		m := t.withMem(b, k)
		t.PeakRSSMB, t.AnonMB, t.FileMB = max(t.PeakRSSMB, m.PeakRSSMB), max(t.AnonMB, m.AnonMB), max(t.FileMB, m.FileMB)
	}
	r.res.TwoInstances = &t
	r.logf("two instances in one group: %.0f events/s, %.2f CPU s per million, peak RSS %.0f MB each at most", t.EventsPerSec, t.CPUSecPerMillion, t.PeakRSSMB)
	return nil
}

func (r *runner) bigView(ctx context.Context) error {
	cl, err := newProducer(r.brokers)
	if err != nil {
		return err
	}
	start := time.Now()
	err = loadContent(ctx, cl, contentTopic, r.cfg.Content, r.cfg.ScaleContent)
	cl.Close()
	if err != nil {
		return err
	}
	r.logf("loaded content rows up to %d in %v", r.cfg.ScaleContent, time.Since(start).Round(time.Millisecond))
	out := "bench.out.big"
	if err := r.adm.create(ctx, kafkax.Topic(out, r.cfg.Partitions, "")); err != nil {
		return err
	}
	defer r.adm.remove(ctx, out)
	c, err := r.startRun("enricher ("+strconv.Itoa(r.cfg.ScaleContent)+" rows)", "big", filepath.Join(r.dir, "big"), "bench-big", out, false)
	if err != nil {
		return err
	}
	defer c.stop()
	restore, err := c.waitReady(ctx, 10*time.Minute)
	if err != nil {
		return err
	}
	t, err := r.throughput(ctx, out, int64(r.cfg.Events), c)
	if err != nil {
		return err
	}
	rss, _ := c.stop()
	r.res.BigView = &BigView{Rows: r.cfg.ScaleContent, RestoreS: restore.Seconds(), Throughput: t.withMem(rss, c)}
	r.logf("%d rows: restored in %v, %.0f events/s, %.2f CPU s per million, peak RSS %.0f MB",
		r.cfg.ScaleContent, restore.Round(time.Millisecond), t.EventsPerSec, t.CPUSecPerMillion, mb(rss))
	return nil
}
