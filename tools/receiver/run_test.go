package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// serveAndStop checks a receiver being served at addr by run: it counts a
// batch and answers /stats, and once the context ends run returns nil and
// nothing listens at addr any more.
func serveAndStop(t *testing.T, addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	url := "http://" + addr
	if res, body, err := post(t, url+"/events", "k1", batch); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("post: %v %v %s", err, res, body)
	}
	res, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if err != nil || st.Events != 2 || st.Batches != 1 {
		t.Fatalf("GET /stats: %+v, %v; want 2 events in 1 batch", st, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v, want nil after the context ended", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not return within 10s of the context ending")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("something still listens after it returned")
	}
}

// TestServeServesUntilCancelled serves a receiver on a listener of the
// test's own.
func TestServeServesUntilCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, Config{Seed: 1}, ln) }()
	serveAndStop(t, ln.Addr().String(), cancel, done)
}

// TestRunListensOnAddr runs the receiver as `enricher receiver` does: Run
// listens on Config.Addr (port 0: a free one, logged as "addr") and serves
// there until the context ends.
func TestRunListensOnAddr(t *testing.T) {
	obs, logs := observer.New(zap.InfoLevel)
	listening := make(chan struct{})
	var once sync.Once
	log := zap.New(obs, zap.Hooks(func(e zapcore.Entry) error {
		if e.Message == "receiver listening" {
			once.Do(func() { close(listening) })
		}
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Addr: "127.0.0.1:0", Seed: 1, Logger: log}) }()
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not listen within 10s")
	}
	addr, _ := logs.FilterMessage("receiver listening").All()[0].ContextMap()["addr"].(string)
	serveAndStop(t, addr, cancel, done)
}

// TestRefusesConfig checks Run and Serve refuse fault settings that make no
// sense, and Run an address it cannot listen on, with a *FieldError naming
// the field, before serving anything; Serve closes the listener it was
// given.
func TestRefusesConfig(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name      string
		modify    func(*Config)
		wantField string
		wantErr   string // the message; for a port in use, its end
	}{
		{"address without a port", func(c *Config) { c.Addr = "localhost" }, "Addr", `"localhost" is not host:port`},
		{"port in use", func(c *Config) { c.Addr = busy.Addr().String() }, "Addr", "(is the port in use?)"},
		{"fail rate above 1", func(c *Config) { c.Faults.FailRate = 1.5 }, "Faults.FailRate", "must be a fraction in [0,1]"},
		{"negative throttle rate", func(c *Config) { c.Faults.ThrottleRate = -0.1 }, "Faults.ThrottleRate", "must be a fraction in [0,1]"},
		{"drop rate not a number", func(c *Config) { c.Faults.DropRate = math.NaN() }, "Faults.DropRate", "must be a fraction in [0,1]"},
		{"negative slow rate", func(c *Config) { c.Faults.SlowRate = -0.1 }, "Faults.SlowRate", "must be a fraction in [0,1]"},
		{"rates adding up to more than 1", func(c *Config) { c.Faults.FailRate, c.Faults.ThrottleRate, c.Faults.DropRate = 0.5, 0.4, 0.2 },
			"Faults.FailRate", "fail, throttle and drop rates add up to more than 1"},
		{"negative delay", func(c *Config) { c.Faults.Slow = -time.Second }, "Faults.Slow", "must not be negative"},
		{"negative retry-after", func(c *Config) { c.Faults.RetryAfter = -time.Second }, "Faults.RetryAfter", "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Addr: "127.0.0.1:0", Faults: Faults{RetryAfter: time.Second, SlowRate: 1}}
			tc.modify(&cfg)
			check := func(fn string, err error) {
				t.Helper()
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tc.wantField || !strings.HasSuffix(fe.Err.Error(), tc.wantErr) {
					t.Fatalf("%s: got %v, want a *FieldError of %s saying %q", fn, err, tc.wantField, tc.wantErr)
				}
			}
			check("Run", Run(context.Background(), cfg))
			if tc.wantField == "Addr" {
				return // Serve does not read Addr
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			check("Serve", Serve(context.Background(), cfg, ln))
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				c.Close()
				t.Error("Serve left its listener open")
			}
		})
	}
}
