package demo

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// TestRunRefusesABadConfig checks Run refuses a Config value with a
// *FieldError naming the field, before it starts anything (nothing is
// written to out).
func TestRunRefusesABadConfig(t *testing.T) {
	service := func([]string, string) (Service, error) { panic("the service was opened") }
	good := Config{Rate: 10, UpdateRate: 0, StatusEvery: time.Second, Service: service}
	for _, tc := range []struct {
		name      string
		modify    func(*Config)
		wantField string // "": not a *FieldError
		want      string // the *FieldError's message, or else the error's
	}{
		{"zero rate", func(c *Config) { c.Rate = 0 }, "Rate", "must be positive"},
		{"negative rate", func(c *Config) { c.Rate = -5 }, "Rate", "must be positive"},
		{"rate not a number", func(c *Config) { c.Rate = math.NaN() }, "Rate", "must be positive"},
		{"infinite rate", func(c *Config) { c.Rate = math.Inf(1) }, "Rate", "must be positive"},
		{"negative update rate", func(c *Config) { c.UpdateRate = -1 }, "UpdateRate", "must not be negative (0: no content changes)"},
		{"update rate not a number", func(c *Config) { c.UpdateRate = math.NaN() }, "UpdateRate", "must not be negative (0: no content changes)"},
		{"no status interval", func(c *Config) { c.StatusEvery = 0 }, "StatusEvery", "must be positive"},
		{"negative status interval", func(c *Config) { c.StatusEvery = -time.Second }, "StatusEvery", "must be positive"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "Duration", "must not be negative (0: until Ctrl-C)"},
		{"no service", func(c *Config) { c.Service = nil }, "", "demo: no service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.modify(&cfg)
			var out bytes.Buffer
			err := Run(context.Background(), cfg, nil, &out)
			var fe *FieldError
			switch {
			case tc.wantField == "" && (err == nil || errors.As(err, &fe) || err.Error() != tc.want):
				t.Fatalf("got %v, want %q", err, tc.want)
			case tc.wantField != "" && (!errors.As(err, &fe) || fe.Field != tc.wantField || fe.Err.Error() != tc.want):
				t.Fatalf("got %v, want a *FieldError of %s saying %q", err, tc.wantField, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %q: it started something", out.String())
			}
		})
	}
}
