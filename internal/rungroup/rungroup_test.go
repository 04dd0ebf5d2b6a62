package rungroup

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunStopsEveryPartOnContextEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := New(ctx, nil)
	var stopped atomic.Int32
	for _, name := range []string{"a", "b"} {
		g.Go(name, func(ctx context.Context) error { <-ctx.Done(); stopped.Add(1); return ctx.Err() })
	}
	done := make(chan error, 1)
	go func() { done <- g.Run() }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v, want nil: parts ending because the group stops are not failures", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the context ended")
	}
	if n := stopped.Load(); n != 2 {
		t.Errorf("got %d parts stopped, want 2: Run must wait for every part", n)
	}
}

func TestRunReturnsTheFirstFailure(t *testing.T) {
	g := New(context.Background(), nil)
	boom := errors.New("boom")
	var other atomic.Bool
	g.Go("broken", func(context.Context) error { return boom })
	g.Go("healthy", func(ctx context.Context) error { <-ctx.Done(); other.Store(true); return nil })
	err := g.Run()
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "broken: ") {
		t.Errorf("got %v, want boom prefixed with the part's name", err)
	}
	if !other.Load() {
		t.Error("the healthy part was not stopped and waited for")
	}
}

func TestServeShutsDownWithTheGroup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	ctx, cancel := context.WithCancel(context.Background())
	g := New(ctx, nil)
	g.Serve(srv, ln)
	done := make(chan error, 1)
	go func() { done <- g.Run() }()
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("got %v, want nil", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String()); err == nil {
		t.Error("the server still answers after the group stopped")
	}
}
