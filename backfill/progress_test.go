package backfill

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// counting records the size of each write.
type counting struct {
	Producer
	sizes []int
}

func (c *counting) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	c.sizes = append(c.sizes, len(msgs))
	return c.Producer.WriteMessages(ctx, msgs...)
}

// TestRate: with --rate, writes are a tenth of a second's worth and the run
// takes at least count/rate (less the first write, which goes at once).
func TestRate(t *testing.T) {
	pgURL, _ := seededDB(t)
	kc := newKafka(t)
	cfg := testConfig(t, pgURL, kc)
	cfg.To = cfg.From.Add(3000 * time.Second) // 3,000 events
	cfg.Rate = 20_000
	w := &kafka.Writer{Addr: kafka.TCP(kc.Addrs()...), Topic: testTopic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	c := &counting{Producer: w}
	cfg.Producer = c
	core, logs := observer.New(zap.InfoLevel)
	cfg.Progress = NewLogProgress(zap.New(core), 0)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if min := time.Duration(float64(3000-2000) / cfg.Rate * float64(time.Second)); res.Elapsed < min {
		t.Fatalf("3000 events at %v/s took %v, want at least %v", cfg.Rate, res.Elapsed, min)
	}
	for _, n := range c.sizes {
		if n > 2000 {
			t.Fatalf("write sizes %v: want at most 2000 (a tenth of a second)", c.sizes)
		}
	}
	t.Logf("3000 events at %v/s in %v, writes %v", cfg.Rate, res.Elapsed, c.sizes)
	// The log progress: a start line, one per write (interval 0), the end.
	lines := logs.FilterMessage("backfill progress").All()
	end := logs.FilterMessage("backfill progress: complete").All()
	if len(lines) != 1+len(c.sizes) || len(end) != 1 || end[0].ContextMap()["sent"] != int64(3000) || end[0].ContextMap()["total"] != int64(3000) {
		t.Fatalf("progress lines: %d + %v", len(lines), end)
	}
}

func TestBar(t *testing.T) {
	var buf bytes.Buffer
	b := NewBar(&buf)
	b.Start(100, true)
	b.Advance(60, 600)
	b.Advance(120, 1200) // past the estimate
	b.Finish(nil)
	out := buf.String()
	if !strings.Contains(out, "backfill (total estimated)") || !strings.Contains(out, "120/120") || !strings.Contains(out, "events/s") {
		t.Fatalf("bar output: %q", out)
	}
}
