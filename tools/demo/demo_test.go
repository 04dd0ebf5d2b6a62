package demo

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"
)

// TestRunRefusesABadConfig checks Run says what is wrong with its Config,
// in one line, before it starts anything (nothing is written to out).
func TestRunRefusesABadConfig(t *testing.T) {
	service := func([]string, string) (Service, error) { panic("the service was opened") }
	good := Config{Rate: 10, UpdateRate: 0, StatusEvery: time.Second, Service: service}
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"zero rate", func(c *Config) { c.Rate = 0 }, "demo: rate 0: must be positive"},
		{"negative rate", func(c *Config) { c.Rate = -5 }, "demo: rate -5: must be positive"},
		{"rate not a number", func(c *Config) { c.Rate = math.NaN() }, "demo: rate NaN: must be positive"},
		{"infinite rate", func(c *Config) { c.Rate = math.Inf(1) }, "demo: rate +Inf: must be positive"},
		{"negative update rate", func(c *Config) { c.UpdateRate = -1 }, "demo: update rate -1: must not be negative"},
		{"no status interval", func(c *Config) { c.StatusEvery = 0 }, "demo: status interval 0s: must be positive"},
		{"no service", func(c *Config) { c.Service = nil }, "demo: no service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.modify(&cfg)
			var out bytes.Buffer
			err := Run(context.Background(), cfg, nil, &out)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %q: it started something", out.String())
			}
		})
	}
}
