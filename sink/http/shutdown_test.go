package httpsink

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/tools/receiver"
)

// TestShutdownFinishesInFlight: a stop while a POST is in flight waits for
// its answer and commits it, so the next instance does not send it again.
func TestShutdownFinishesInFlight(t *testing.T) {
	rcv := receiver.New(receiver.Config{})
	release := make(chan struct{})
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == 1 {
			<-release // hold the first POST until the sink is stopping
		}
		rcv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, 1)
	e.produceRange(0, 5)
	first := e.start(srv.URL+"/events", func(c *SinkConfig) { c.Timeout = 10 * time.Second })
	testkafka.Eventually(t, 30*time.Second, "the first POST to arrive", func() bool { return arrived.Load() == 1 })
	stopped := make(chan error, 1)
	go func() { stopped <- first.stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) with a POST in flight", err)
	case <-time.After(200 * time.Millisecond):
		// Still draining, as it should; a bounded wait is the only way to see a non-event.
	}
	close(release)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the POST was answered")
	}
	e.produceRange(5, 8)
	e.start(srv.URL+"/events", nil)
	testkafka.Eventually(t, 30*time.Second, "all 8 events", func() bool { return rcv.Stats().Events == 8 })
	if st := rcv.Stats(); st.DuplicateKeys != 0 {
		t.Errorf("the batch in flight at the stop was sent again: %+v", st)
	}
}
