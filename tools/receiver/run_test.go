package receiver

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestRunServesUntilCancelled runs the receiver as `enricher receiver`
// does, on a real listener: it counts a batch, answers /stats, and once
// the context ends Run returns nil and nothing listens any more.
func TestRunServesUntilCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Seed: 1}, ln) }()

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
			t.Errorf("Run: got %v, want nil after the context ended", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of the context ending")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("something still listens after Run returned")
	}
}
