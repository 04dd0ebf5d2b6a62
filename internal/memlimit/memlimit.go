package memlimit

import (
	"context"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Config says how the limit follows the live heap.
type Config struct {
	Floor    int64         // the limit never goes below it, bytes
	Headroom int64         // limit = live heap + Headroom, when above Floor
	Every    time.Duration // how often Keep looks at the live heap
	// OnChange, when set, is told each limit Keep sets, with the live heap
	// it was computed from (for a log line).
	OnChange func(limit, live int64)
}

func (c Config) validate() error {
	switch {
	case c.Floor <= 0:
		return fmt.Errorf("memory limit: floor %d must be positive", c.Floor)
	case c.Headroom <= 0:
		return fmt.Errorf("memory limit: headroom %d must be positive", c.Headroom)
	case c.Every <= 0:
		return fmt.Errorf("memory limit: interval %v must be positive", c.Every)
	}
	return nil
}

// Limit is the limit for a live heap of live bytes.
func (c Config) Limit(live int64) int64 {
	return max(c.Floor, live+c.Headroom)
}

// Keep sets the limit now and then every c.Every until ctx ends; it returns
// nil then, or at once with an invalid c.
func Keep(ctx context.Context, c Config) error {
	if err := c.validate(); err != nil {
		return err
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var set int64
	t := time.NewTicker(c.Every)
	defer t.Stop()
	for {
		metrics.Read(sample)
		live := int64(0)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = int64(sample[0].Value.Uint64())
		}
		if want := c.Limit(live); set == 0 || off(want, set) {
			debug.SetMemoryLimit(want)
			set = want
			if c.OnChange != nil {
				c.OnChange(want, live)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// off reports whether want differs from set by more than a tenth: small
// swings of the live heap are not worth a new limit.
func off(want, set int64) bool {
	d := want - set
	if d < 0 {
		d = -d
	}
	return d*10 > set
}
