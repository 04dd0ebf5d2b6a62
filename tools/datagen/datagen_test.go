package datagen

import (
	"context"
	"math"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "neither target", cfg: Config{}, wantErr: "exactly one of PGURL and Brokers"},
		{name: "both targets", cfg: Config{PGURL: "postgres://x@localhost/db", Brokers: []string{"b:9092"}}, wantErr: "exactly one"},
		{name: "blank brokers are none", cfg: Config{Brokers: []string{" ", ""}}, wantErr: "exactly one"},
		{name: "negative catalogue", cfg: Config{Brokers: []string{"b:9092"}, Catalogue: -1}, wantErr: "catalogue"},
		{name: "NaN rate", cfg: Config{Brokers: []string{"b:9092"}, Rate: math.NaN()}, wantErr: "rate"},
		{name: "infinite update rate", cfg: Config{Brokers: []string{"b:9092"}, UpdateRate: math.Inf(1)}, wantErr: "update rate"},
		{name: "bad postgres url", cfg: Config{PGURL: "postgres://x@localhost:notaport/db"}, wantErr: "postgres url"},
		{name: "defaults", cfg: Config{Brokers: []string{"b:9092"}}, check: func(t *testing.T, c Config) {
			if c.TopicPrefix != "thmanyah" || c.EventsTopic != "thmanyah.public.engagement_events" ||
				c.Catalogue != 200 || c.Rate != 100 || c.UpdateRate != 0.2 {
				t.Errorf("got %+v, want the documented defaults", c)
			}
		}},
		{name: "negative rates turn off", cfg: Config{PGURL: "postgres://x@localhost/db", Rate: -1, UpdateRate: -5}, check: func(t *testing.T, c Config) {
			if c.Rate != 0 || c.UpdateRate != 0 {
				t.Errorf("rates: got %v and %v, want 0 and 0", c.Rate, c.UpdateRate)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, g.cfg)
		})
	}
}

func TestRunOnce(t *testing.T) {
	g, err := New(Config{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Run(ctx); err != nil {
		t.Errorf("first Run with an ended context: got %v, want nil", err)
	}
	if err := g.Run(ctx); err == nil {
		t.Error("second Run: got nil, want an error")
	}
}

// TestTake checks the pacing arithmetic: fractions carry over between
// ticks, and a backlog past the limit is dropped, not carried.
func TestTake(t *testing.T) {
	for _, tc := range []struct {
		name        string
		perTick     float64
		ticks       int
		limit       int
		wantTotal   int
		wantDropped int
	}{
		{"12.5/s in 10 ms ticks", 0.125, 80, 12, 10, 0},
		{"100/s in 10 ms ticks", 1, 100, 100, 100, 0},
		{"150/s in 10 ms ticks", 1.5, 100, 150, 150, 0},
		{"a stalled tick owing 5 s at 100/s", 500, 1, 100, 100, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var owed float64
			total, dropped := 0, 0
			for range tc.ticks {
				n, d := take(&owed, tc.perTick, tc.limit)
				total, dropped = total+n, dropped+d
			}
			if total != tc.wantTotal || dropped != tc.wantDropped {
				t.Errorf("got %d emitted and %d dropped, want %d and %d", total, dropped, tc.wantTotal, tc.wantDropped)
			}
		})
	}
}
