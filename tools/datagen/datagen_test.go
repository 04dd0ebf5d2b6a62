package datagen

import (
	"bytes"
	"context"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testkafka"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       Config
		wantField string // "" with wantErr: ErrTarget
		wantErr   string // the *FieldError's message, or its start
		check     func(t *testing.T, c Config)
	}{
		{name: "neither target", cfg: Config{}},
		{name: "both targets", cfg: Config{PGURL: "postgres://x@localhost/db", Brokers: []string{"b:9092"}}},
		{name: "blank brokers are none", cfg: Config{Brokers: []string{" ", ""}}},
		{name: "negative catalogue", cfg: Config{Brokers: []string{"b:9092"}, Catalogue: -1}, wantField: "Catalogue", wantErr: "-1 is negative"},
		{name: "NaN rate", cfg: Config{Brokers: []string{"b:9092"}, Rate: math.NaN()}, wantField: "Rate",
			wantErr: "NaN is not a number of events per second"},
		{name: "infinite update rate", cfg: Config{Brokers: []string{"b:9092"}, UpdateRate: math.Inf(1)}, wantField: "UpdateRate",
			wantErr: "+Inf is not a number of changes per second"},
		{name: "bad postgres url", cfg: Config{PGURL: "postgres://x@localhost:notaport/db"}, wantField: "PGURL", wantErr: "cannot parse"},
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
			if tc.check == nil {
				checkRefusal(t, err, tc.wantField, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, g.cfg)
		})
	}
}

// checkRefusal fails unless err is ErrTarget (wantField empty) or a
// *FieldError of wantField whose message starts with wantErr.
func checkRefusal(t *testing.T, err error, wantField, wantErr string) {
	t.Helper()
	if wantField == "" {
		if !errors.Is(err, ErrTarget) {
			t.Fatalf("got %v, want ErrTarget", err)
		}
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != wantField || !strings.HasPrefix(fe.Err.Error(), wantErr) {
		t.Fatalf("got %v, want a *FieldError of %s saying %q", err, wantField, wantErr)
	}
}

// TestRunForRefuses checks RunFor refuses what `enricher datagen` must
// not run, naming the field, before it connects to anything or writes out.
func TestRunForRefuses(t *testing.T) {
	kafka := Config{Brokers: []string{"127.0.0.1:1"}, Rate: 1, UpdateRate: 1, Catalogue: 1}
	for _, tc := range []struct {
		name      string
		modify    func(*RunConfig)
		wantField string // "": ErrTarget
		wantErr   string
	}{
		{"neither target", func(rc *RunConfig) { rc.Brokers = nil }, "", ""},
		{"both targets", func(rc *RunConfig) { rc.PGURL = "postgres://x@127.0.0.1:1/db" }, "", ""},
		{"no target and a negative rate", func(rc *RunConfig) { rc.Brokers, rc.Rate = nil, -1 }, "", ""},
		{"negative rate", func(rc *RunConfig) { rc.Rate = -1 }, "Rate", "must not be negative"},
		{"negative update rate", func(rc *RunConfig) { rc.UpdateRate = -0.5 }, "UpdateRate", "must not be negative"},
		{"empty catalogue", func(rc *RunConfig) { rc.Catalogue = 0 }, "Catalogue", "must be at least 1"},
		{"negative catalogue", func(rc *RunConfig) { rc.Catalogue = -1 }, "Catalogue", "must be at least 1"},
		{"negative duration", func(rc *RunConfig) { rc.Duration = -time.Second }, "Duration", "must not be negative"},
		{"rate not a number", func(rc *RunConfig) { rc.Rate = math.NaN() }, "Rate", "NaN is not a number of events per second"},
		{"bad postgres url", func(rc *RunConfig) { rc.Brokers, rc.PGURL = nil, "postgres://x@localhost:notaport/db" }, "PGURL", "cannot parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := RunConfig{Config: kafka}
			tc.modify(&rc)
			var out bytes.Buffer
			checkRefusal(t, RunFor(context.Background(), rc, &out), tc.wantField, tc.wantErr)
			if out.Len() != 0 {
				t.Errorf("wrote %q, want nothing", out.String())
			}
		})
	}
}

// TestRunForZeroRatesAreNone runs RunFor as `enricher datagen --rate 0
// --update-rate 0 --duration 300ms` does, against a real (in-process)
// Kafka: a zero rate is none, not New's default, so the run writes the
// catalogue and nothing else, stops by itself and says so in one line.
func TestRunForZeroRatesAreNone(t *testing.T) {
	kc := testkafka.New(t)
	var out bytes.Buffer
	rc := RunConfig{Config: Config{Brokers: kc.Addrs(), Catalogue: 7, Seed: 1}, Duration: 300 * time.Millisecond}
	if err := RunFor(context.Background(), rc, &out); err != nil {
		t.Fatalf("RunFor: got %v, want nil once the duration passed", err)
	}
	want := regexp.MustCompile(`^datagen: 7 content rows created, 0 events \(0\.0/s\), 0 updates, 0 deletes in \S+\n$`)
	if !want.MatchString(out.String()) {
		t.Errorf("got %q, want it to match %s", out.String(), want)
	}
	if recs := kc.ReadAll(contentTopic, 7, 10*time.Second); len(recs) != 7 {
		t.Errorf("content records: got %d, want the catalogue of 7", len(recs))
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
