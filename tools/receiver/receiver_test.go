package receiver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testkafka"
)

func newServer(t *testing.T, cfg Config) (*Receiver, string) {
	t.Helper()
	r := New(cfg)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func post(t *testing.T, url, key, body string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	// A fresh connection each time, so a dropped one is seen as such.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b), nil
}

const batch = `{"events":[{"event_id":1,"event_ts":"2025-01-01T12:30:00.000Z","engagement_pct":null},{"event_id":2,"event_ts":"2025-01-01T12:30:00.001Z"}]}`

func TestDedupByKey(t *testing.T) {
	r, url := newServer(t, Config{})
	for i, key := range []string{"k1", "k1", "k2"} {
		res, body, err := post(t, url+"/events", key, batch)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("post %d: %v %v %s", i, err, res, body)
		}
		if dup := strings.Contains(body, `"duplicate":true`); dup != (i == 1) {
			t.Errorf("post %d: answer %s", i, body)
		}
	}
	// The same key with other events is a conflict, still not counted.
	if res, _, _ := post(t, url+"/", "k1", `{"events":[{"event_id":9,"event_ts":"2025-01-01T12:30:00Z"}]}`); res.StatusCode != http.StatusOK {
		t.Errorf("conflicting repeat: %d", res.StatusCode)
	}
	want := Stats{Requests: 4, Batches: 2, Events: 4, DuplicateKeys: 2, DistinctEvents: 2, KeyConflicts: 1, Faults: map[string]int64{}}
	got := r.Stats()
	if !equalStats(got, want) {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	res, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var fromHTTP Stats
	if err := json.NewDecoder(res.Body).Decode(&fromHTTP); err != nil || !equalStats(fromHTTP, want) {
		t.Errorf("GET /stats: %+v, %v", fromHTTP, err)
	}
}

func TestRejectsMalformed(t *testing.T) {
	r, url := newServer(t, Config{})
	for _, tc := range []struct{ name, key, body, want string }{
		{"no key", "", batch, "Idempotency-Key"},
		{"not json", "k", "{", "events"},
		{"no event_id", "k", `{"events":[{"event_ts":"2025-01-01T00:00:00Z"}]}`, "event_id"},
		{"bad event_ts", "k", `{"events":[{"event_id":1,"event_ts":"yesterday"}]}`, "event_ts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body, err := post(t, url, tc.key, tc.body)
			if err != nil || res.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("got %v %v %s; want 400 naming %s", err, res, body, tc.want)
			}
		})
	}
	if st := r.Stats(); st.Rejected != 4 || st.Batches != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFaults(t *testing.T) {
	r, url := newServer(t, Config{})
	// 503 and 429 come before counting.
	res, _, err := post(t, url+"/events?fail_rate=1", "a", batch)
	if err != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("fail_rate=1: %v %v", err, res)
	}
	res, _, err = post(t, url+"/events?throttle_rate=1&retry_after=1500ms", "a", batch)
	if err != nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "2" {
		t.Fatalf("throttle_rate=1: %v %v", err, res)
	}
	if st := r.Stats(); st.Batches != 0 {
		t.Errorf("a 503 or 429 was counted: %+v", st)
	}
	// A drop comes after counting: the connection closes with no answer.
	if _, _, err = post(t, url+"/events?drop_rate=1", "a", batch); err == nil {
		t.Fatal("drop_rate=1: got an answer")
	}
	// A slow answer too; the client times out.
	c := &http.Client{Timeout: time.Second}
	req, _ := http.NewRequest(http.MethodPost, url+"/events?slow=5s", strings.NewReader(batch))
	req.Header.Set("Idempotency-Key", "b")
	start := time.Now()
	if _, err := c.Do(req); err == nil || time.Since(start) > 4*time.Second {
		t.Fatalf("slow=5s: %v after %v, want the client's timeout well before 5 s", err, time.Since(start))
	}
	// The client can give up before the handler has counted the slow batch.
	var st Stats
	testkafka.Eventually(t, 10*time.Second, "the slow batch counted", func() bool {
		st = r.Stats()
		return st.Faults["slow"] == 1
	})
	if st.Batches != 2 || st.Events != 4 || st.Faults["fail"] != 1 || st.Faults["throttle"] != 1 || st.Faults["drop"] != 1 || st.Faults["slow"] != 1 {
		t.Errorf("stats %+v", st)
	}
	if res, body, _ := post(t, url+"/events?fail_rate=2", "c", batch); res.StatusCode != http.StatusBadRequest {
		t.Errorf("fail_rate=2: %d %s", res.StatusCode, body)
	}
}

func TestServerFaultsAndHook(t *testing.T) {
	var seen []Request
	_, url := newServer(t, Config{Faults: Faults{FailRate: 0.5}, Seed: 1, OnRequest: func(q Request) { seen = append(seen, q) }})
	var failed, ok int
	for i := 0; i < 40; i++ {
		res, _, err := post(t, url, "k", batch)
		switch {
		case err != nil:
			t.Fatal(err)
		case res.StatusCode == http.StatusServiceUnavailable:
			failed++
		case res.StatusCode == http.StatusOK:
			ok++
		}
	}
	if failed < 5 || ok < 5 {
		t.Errorf("fail rate 0.5: %d failed, %d ok", failed, ok)
	}
	if len(seen) != 40 || seen[0].Key != "k" || len(seen[0].EventIDs) != 2 {
		t.Errorf("hook saw %d requests, first %+v", len(seen), seen[0])
	}
}

func TestMethodAndPaths(t *testing.T) {
	_, url := newServer(t, Config{})
	res, err := http.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /events: %d", res.StatusCode)
	}
	if res, _, err := post(t, url+"/elsewhere", "k", batch); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /elsewhere: %v %v", err, res)
	}
	res, err = http.Get(url + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("healthz: %v %v", err, res)
	}
	if res != nil {
		res.Body.Close()
	}
}

func equalStats(a, b Stats) bool {
	if len(a.Faults) != len(b.Faults) {
		return false
	}
	for k, v := range a.Faults {
		if b.Faults[k] != v {
			return false
		}
	}
	a.Faults, b.Faults = nil, nil
	return reflect.DeepEqual(a, b)
}
