package httpsink

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/tools/receiver"
)

// TestDeliveryUnderFaults runs the sink against a receiver that answers
// random 503s and bursts of them, 429 with Retry-After, answers slower than
// the timeout and drops connections: every event ends up delivered or in the
// DLQ, and an event sent more than once always carried the same key.
func TestDeliveryUnderFaults(t *testing.T) {
	const n = 3000
	e := newEnv(t, 4)
	e.produceRange(0, n)
	rcv, rec, url := newReceiver(t, receiver.Faults{
		FailRate: 0.2, ThrottleRate: 0.04, RetryAfter: time.Second,
		DropRate: 0.1, Slow: 2 * time.Second, SlowRate: 0.1,
	})
	// Every 50 requests, a burst of 12 consecutive 503s (before the receiver).
	var requests atomic.Int64
	var bursts atomic.Int64
	bursty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := requests.Add(1); i%50 >= 38 {
			bursts.Add(1)
			http.Error(w, "burst", http.StatusServiceUnavailable)
			return
		}
		proxy(w, r, url)
	}))
	t.Cleanup(bursty.Close)
	s := e.start(bursty.URL, func(c *SinkConfig) {
		c.BatchSize = 25
		c.Timeout = 300 * time.Millisecond
		c.MaxRetries = 4 // low, so some batches run out and the DLQ path is taken too
		c.BreakerFailures = 6
		c.BreakerCooldown = 50 * time.Millisecond
	})
	testkafka.Eventually(t, 90*time.Second, "every event delivered or dead-lettered", func() bool {
		d, x := s.Stats()
		return d+x >= n
	})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	delivered, dead := s.Stats()
	if delivered+dead != n {
		t.Fatalf("delivered %d + dead %d, want %d", delivered, dead, n)
	}
	reqs := rec.requests()
	keyOf := checkKeys(t, reqs)
	inDLQ := dlqEventIDs(t, e.dlq(int(dead)))
	st := rcv.Stats()
	for id := int64(0); id < n; id++ {
		_, received := keyOf[id]
		if _, ok := inDLQ[id]; !ok && !received {
			t.Errorf("event %d lost: neither received nor in the dlq", id)
		}
	}
	for id, r := range inDLQ {
		if got := header(r, dlq.HeaderStage); got != Stage {
			t.Errorf("dlq record %d: stage %q, want %q", id, got, Stage)
		}
		if got := header(r, dlq.HeaderError); !strings.Contains(got, "attempts failed") {
			t.Errorf("dlq record %d: error %q, want retries exhausted", id, got)
		}
	}
	if st.Events != st.DistinctEvents || st.KeyConflicts != 0 {
		t.Errorf("receiver counted %d events, %d distinct, %d key conflicts: an event was counted under two keys", st.Events, st.DistinctEvents, st.KeyConflicts)
	}
	for _, f := range []string{"fail", "throttle", "drop", "slow"} {
		if st.Faults[f] == 0 {
			t.Errorf("no %s fault was injected: the test proves less than it claims", f)
		}
	}
	if st.DuplicateKeys == 0 {
		t.Error("no key was sent twice: drops and slow answers should have caused some")
	}
	if bursts.Load() == 0 || s.metric("enricher_sink_http_breaker_transitions_total", "state", "open") == 0 {
		t.Errorf("%d burst answers, breaker opened %v times: want both", bursts.Load(),
			s.metric("enricher_sink_http_breaker_transitions_total", "state", "open"))
	}
	for _, class := range []string{"timeout", "error", "5xx", "429"} {
		if s.metric("enricher_sink_http_retries_total", "reason", class) == 0 {
			t.Errorf("no retry counted for %s", class)
		}
	}
	t.Logf("requests %d (+%d burst 503s), batches %d, duplicate keys %d, faults %v, delivered %d, dlq %d, breaker opened %v times",
		st.Requests, bursts.Load(), st.Batches, st.DuplicateKeys, st.Faults, delivered, dead,
		s.metric("enricher_sink_http_breaker_transitions_total", "state", "open"))
}

// TestRejectedBatchGoesToDLQ: a 400 dead-letters the batch at once, with the
// status and the start of the body in dlq.error, and no retry.
func TestRejectedBatchGoesToDLQ(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"field engagement_pct: bad value"}` + strings.Repeat(" padding", 200)))
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, 1)
	e.produceRange(0, 7)
	s := e.start(srv.URL, func(c *SinkConfig) { c.BatchSize = 10; c.Linger = 50 * time.Millisecond })
	testkafka.Eventually(t, 30*time.Second, "the batch dead-lettered", func() bool { _, d := s.Stats(); return d == 7 })
	recs := e.dlq(7)
	for _, r := range recs {
		msg := header(r, dlq.HeaderError)
		if !strings.Contains(msg, "400") || !strings.Contains(msg, "engagement_pct: bad value") || len(msg) > 400 {
			t.Errorf("dlq.error = %q, want the status and a snippet of the body", msg)
		}
		if got := header(r, dlq.HeaderStage); got != Stage {
			t.Errorf("dlq.stage = %q, want %q", got, Stage)
		}
		if header(r, dlq.HeaderTopic) != testTopic || header(r, dlq.HeaderPartition) != "0" || header(r, dlq.HeaderOffset) == "" {
			t.Errorf("dlq source headers: %v", r.Headers)
		}
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("got %d requests, want 1: a 400 is not retried", got)
	}
	if got := s.metric("enricher_sink_http_dlq_records_total", "reason", "rejected"); got != 7 {
		t.Errorf("dlq_records_total{reason=rejected} = %v, want 7", got)
	}
}

// TestUndecodableRecordsGoToDLQ: a record that is not a processed_engagements
// record is dead-lettered; the rest of its batch is delivered.
func TestUndecodableRecordsGoToDLQ(t *testing.T) {
	e := newEnv(t, 1)
	e.produceRange(0, 3)
	e.kc.Produce(garbage(testTopic, "99", "not avro"))
	e.produceRange(3, 6)
	rcv, rec, url := newReceiver(t, receiver.Faults{})
	s := e.start(url, nil)
	testkafka.Eventually(t, 30*time.Second, "all records done", func() bool { d, x := s.Stats(); return d+x == 7 })
	r := e.dlq(1)[0]
	if string(r.Key) != "99" || !strings.Contains(header(r, dlq.HeaderError), "decode") || header(r, dlq.HeaderOffset) != "3" {
		t.Errorf("dlq record: key %q, headers %v", r.Key, r.Headers)
	}
	if st := rcv.Stats(); st.Events != 6 {
		t.Errorf("receiver got %d events, want 6", st.Events)
	}
	checkKeys(t, rec.requests())
}

// TestBreakerOpensAndRecovers: consecutive failures open the breaker, which
// holds requests back; once the endpoint recovers a probe closes it.
func TestBreakerOpensAndRecovers(t *testing.T) {
	var healthy atomic.Bool
	var mu sync.Mutex
	var failedAt []time.Time
	rcv := receiver.New(receiver.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			mu.Lock()
			failedAt = append(failedAt, time.Now())
			mu.Unlock()
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		rcv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, 3)
	e.produceRange(0, 30)
	const cooldown = 300 * time.Millisecond
	s := e.start(srv.URL+"/events", func(c *SinkConfig) {
		c.BatchSize = 5
		c.MaxRetries = 1000
		c.BreakerFailures = 3
		c.BreakerCooldown = cooldown
	})
	testkafka.Eventually(t, 20*time.Second, "the breaker open", func() bool { return s.BreakerState() == BreakerOpen })
	if got := s.metric("enricher_sink_http_breaker_state"); got != float64(BreakerOpen) {
		t.Errorf("breaker_state metric = %v, want %d", got, BreakerOpen)
	}
	failures := func() int { mu.Lock(); defer mu.Unlock(); return len(failedAt) }
	openedAt, atOpen := time.Now(), failures()
	testkafka.Eventually(t, 20*time.Second, "three probes", func() bool {
		return s.metric("enricher_sink_http_breaker_transitions_total", "state", "half-open") >= 3
	})
	// While open, only probes reach the endpoint: one per cool-down, plus
	// the requests already in flight when it opened.
	if got, limit := failures()-atOpen, int(time.Since(openedAt)/cooldown)+1+3; got > limit {
		t.Errorf("%d requests in %v while the breaker was open, want at most %d", got, time.Since(openedAt), limit)
	}
	healthy.Store(true)
	testkafka.Eventually(t, 20*time.Second, "every event delivered", func() bool { return rcv.Stats().Events == 30 })
	testkafka.Eventually(t, 5*time.Second, "the breaker closed", func() bool { return s.BreakerState() == BreakerClosed })
	if got := s.metric("enricher_sink_http_breaker_state"); got != float64(BreakerClosed) {
		t.Errorf("breaker_state metric = %v, want 0", got)
	}
	if _, dead := s.Stats(); dead != 0 {
		t.Errorf("%d records dead-lettered during the outage, want 0", dead)
	}
}

// TestRetryAfterHonoured: after a 429 with Retry-After: 1 the next POST waits
// at least a second, and no retry is spent on the breaker.
func TestRetryAfterHonoured(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		first := len(at) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, 1)
	e.produceRange(0, 3)
	s := e.start(srv.URL, func(c *SinkConfig) { c.BreakerFailures = 1 })
	testkafka.Eventually(t, 20*time.Second, "delivered", func() bool { d, _ := s.Stats(); return d == 3 })
	mu.Lock()
	defer mu.Unlock()
	if len(at) != 2 {
		t.Fatalf("got %d requests, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < time.Second {
		t.Errorf("retried after %v, want at least the Retry-After of 1s", gap)
	}
	if s.metric("enricher_sink_http_breaker_transitions_total", "state", "open") != 0 {
		t.Error("a 429 opened the breaker")
	}
}

// TestCrashResendsSameBatch: a crash between the endpoint's acknowledgement
// and the commit makes the next instance — with another --batch — send the
// very same batch with the same key, so the receiver counts it once.
func TestCrashResendsSameBatch(t *testing.T) {
	e := newEnv(t, 1)
	e.produceRange(0, 7)
	rcv, rec, url := newReceiver(t, receiver.Faults{})
	first := e.start(url, func(c *SinkConfig) {
		c.BatchSize = 5
		c.crashAfterPost = func(b *batch) bool { return b.last == 6 }
	})
	select {
	case <-first.finished:
		if !errors.Is(first.err, errCrash) {
			t.Fatalf("first sink returned %v, want the simulated crash", first.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first sink did not crash")
	}
	if st := rcv.Stats(); st.Events != 7 {
		t.Fatalf("before the restart the receiver has %d events, want 7", st.Events)
	}
	e.produceRange(7, 20)
	second := e.start(url, func(c *SinkConfig) { c.BatchSize = 3 })
	testkafka.Eventually(t, 30*time.Second, "all 20 events", func() bool { return rcv.Stats().DistinctEvents == 20 })
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	st := rcv.Stats()
	if st.Events != 20 || st.DuplicateKeys != 1 || st.KeyConflicts != 0 {
		t.Errorf("receiver: %+v; want 20 events, 1 duplicate key (the batch in flight at the crash), 0 conflicts", st)
	}
	reqs := rec.requests()
	keyOf := checkKeys(t, reqs)
	sent := 0
	for _, q := range reqs {
		if q.Key == keyOf[6] {
			sent++
		}
	}
	if sent != 2 || !strings.HasPrefix(keyOf[6], testTopic+"/0/") || !strings.Contains(keyOf[6], "-6/") {
		t.Errorf("the batch in flight at the crash (key %q) was sent %d times, want twice under one key", keyOf[6], sent)
	}
}

func garbage(topic, key, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: []byte(value)}
}

// proxy forwards r to url and copies the answer back; a dropped connection
// upstream is dropped downstream too.
func proxy(w http.ResponseWriter, r *http.Request, url string) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, url, r.Body)
	if err != nil {
		panic(err)
	}
	req.Header = r.Header.Clone()
	res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer res.Body.Close()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}
