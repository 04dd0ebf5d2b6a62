// Package receiver is a stand-in for the external system `enricher sink http`
// delivers to (`enricher receiver`): it accepts the sink's POSTs, counts
// events, deduplicates by Idempotency-Key (a repeated key is acknowledged
// but not counted again), reports what it saw on GET /stats, and can inject
// faults: 503s, 429s with Retry-After, slow answers and dropped connections.
//
// Faults are drawn per request. A 503 or 429 is answered before the batch is
// looked at; a slow answer or a dropped connection comes after the batch was
// counted, so the sender retries what was in fact received — the case an
// Idempotency-Key is for. Every fault setting can also be given per request
// in the query string of the URL POSTed to (fail_rate, throttle_rate,
// retry_after, drop_rate, slow, slow_rate), overriding the server's.
//
// Keys and event ids are kept in memory for the process's life.
package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/rungroup"
)

// Faults is what the receiver injects; rates are fractions of requests.
type Faults struct {
	FailRate     float64       // 503 before processing
	ThrottleRate float64       // 429 with Retry-After before processing
	RetryAfter   time.Duration // Retry-After of a 429, in whole seconds rounded up; 0 is sent as 0
	DropRate     float64       // process, then close the connection without answering
	Slow         time.Duration // process, then wait this long before answering
	SlowRate     float64       // fraction of requests slowed; 0 with Slow set means all
}

// Config configures a Receiver.
type Config struct {
	// Addr is where Run listens (host:port; port 0 picks a free one, logged
	// as "addr"). New and Serve do not read it.
	Addr   string
	Faults Faults
	Seed   uint64 // of the fault draws; 0 draws a random seed
	Logger *zap.Logger
	// OnRequest, when set, is called with every well-formed request, before
	// its fault (if any) is applied.
	OnRequest func(Request)
}

// Request is one well-formed POST as the receiver saw it.
type Request struct {
	Key       string
	EventIDs  []int64
	Duplicate bool   // the key had been acknowledged before
	Fault     string // "", "fail", "throttle", "drop" or "slow"
}

// Stats is the answer of GET /stats.
type Stats struct {
	Requests       int64            `json:"requests"`        // POSTs received
	Batches        int64            `json:"batches"`         // distinct keys accepted
	Events         int64            `json:"events"`          // events in them, each key counted once
	DuplicateKeys  int64            `json:"duplicate_keys"`  // POSTs repeating an accepted key
	DistinctEvents int64            `json:"distinct_events"` // distinct event ids among Events
	KeyConflicts   int64            `json:"key_conflicts"`   // repeated keys whose events differed
	Rejected       int64            `json:"rejected"`        // malformed POSTs, answered 4xx
	Faults         map[string]int64 `json:"faults"`          // injected faults by kind
}

// event is what the receiver reads of each event of a batch: it checks that
// event_id and event_ts are there, and skips the other fields.
type event struct {
	EventID *int64  `json:"event_id"`
	EventTs *string `json:"event_ts"`
}

// MaxBody is the largest request body accepted.
const MaxBody = 32 << 20

// Receiver is the HTTP handler.
type Receiver struct {
	cfg Config
	log *zap.Logger
	mux *http.ServeMux

	mu     sync.Mutex
	rng    *rand.Rand
	keys   map[string]uint64 // key -> hash of its event ids
	ids    map[int64]struct{}
	stats  Stats
	faults map[string]int64
}

// New returns a Receiver.
func New(cfg Config) *Receiver {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	r := &Receiver{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(),
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), keys: map[string]uint64{},
		ids: map[int64]struct{}{}, faults: map[string]int64{}}
	r.mux.HandleFunc("POST /{$}", r.receive)
	r.mux.HandleFunc("POST /events", r.receive)
	r.mux.HandleFunc("GET /stats", r.serveStats)
	r.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return r
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

// Stats returns the counters.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Faults = make(map[string]int64, len(r.faults))
	for k, v := range r.faults {
		s.Faults[k] = v
	}
	return s
}

func (r *Receiver) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, r.Stats())
}

func (r *Receiver) receive(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.stats.Requests++
	r.mu.Unlock()
	f, err := r.faultsFor(req)
	if err != nil {
		r.reject(w, http.StatusBadRequest, err)
		return
	}
	key := req.Header.Get("Idempotency-Key")
	if key == "" {
		r.reject(w, http.StatusBadRequest, errors.New("no Idempotency-Key header"))
		return
	}
	var body struct {
		Events []event `json:"events"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, MaxBody))
	if err := dec.Decode(&body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			r.reject(w, http.StatusRequestEntityTooLarge, err)
			return
		}
		r.reject(w, http.StatusBadRequest, fmt.Errorf("body is not {\"events\":[...]}: %w", err))
		return
	}
	ids := make([]int64, len(body.Events))
	for i, e := range body.Events {
		if e.EventID == nil {
			r.reject(w, http.StatusBadRequest, fmt.Errorf("event %d: no event_id", i))
			return
		}
		if e.EventTs == nil {
			r.reject(w, http.StatusBadRequest, fmt.Errorf("event %d (id %d): no event_ts", i, *e.EventID))
			return
		}
		if _, err := time.Parse(time.RFC3339Nano, *e.EventTs); err != nil {
			r.reject(w, http.StatusBadRequest, fmt.Errorf("event %d (id %d): event_ts: %w", i, *e.EventID, err))
			return
		}
		ids[i] = *e.EventID
	}
	fault, dup := r.record(key, ids, f)
	switch fault {
	case "fail":
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "injected failure"})
		return
	case "throttle":
		w.Header().Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "injected throttling"})
		return
	case "drop":
		drop(w)
		return
	case "slow":
		t := time.NewTimer(f.Slow)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return // the client gave up: nothing to answer
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"accepted": len(ids), "duplicate": dup})
}

// record draws the request's fault and, unless it is answered before
// processing, counts the batch once per key.
func (r *Receiver) record(key string, ids []int64, f Faults) (fault string, dup bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch x := r.rng.Float64(); {
	case x < f.FailRate:
		fault = "fail"
	case x < f.FailRate+f.ThrottleRate:
		fault = "throttle"
	case x < f.FailRate+f.ThrottleRate+f.DropRate:
		fault = "drop"
	case f.Slow > 0 && x < f.FailRate+f.ThrottleRate+f.DropRate+f.SlowRate:
		fault = "slow"
	}
	if fault != "" {
		r.faults[fault]++
	}
	if fault != "fail" && fault != "throttle" {
		h := hashIDs(ids)
		if prev, seen := r.keys[key]; seen {
			dup = true
			r.stats.DuplicateKeys++
			if prev != h {
				r.stats.KeyConflicts++
			}
		} else {
			r.keys[key] = h
			r.stats.Batches++
			r.stats.Events += int64(len(ids))
			for _, id := range ids {
				if _, ok := r.ids[id]; !ok {
					r.ids[id] = struct{}{}
					r.stats.DistinctEvents++
				}
			}
		}
	}
	if r.cfg.OnRequest != nil {
		r.cfg.OnRequest(Request{Key: key, EventIDs: ids, Duplicate: dup, Fault: fault})
	}
	r.log.Debug("batch", zap.String("key", key), zap.Int("events", len(ids)), zap.Bool("duplicate", dup), zap.String("fault", fault))
	return fault, dup
}

// faultsFor returns the server's faults overridden by the request's query.
func (r *Receiver) faultsFor(req *http.Request) (Faults, error) {
	f := r.cfg.Faults
	q := req.URL.Query()
	for name, dst := range map[string]*float64{"fail_rate": &f.FailRate, "throttle_rate": &f.ThrottleRate,
		"drop_rate": &f.DropRate, "slow_rate": &f.SlowRate} {
		if v := q.Get(name); v != "" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x < 0 || x > 1 {
				return f, fmt.Errorf("query %s=%q is not a fraction in [0,1]", name, v)
			}
			*dst = x
		}
	}
	for name, dst := range map[string]*time.Duration{"slow": &f.Slow, "retry_after": &f.RetryAfter} {
		if v := q.Get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return f, fmt.Errorf("query %s=%q is not a duration", name, v)
			}
			*dst = d
		}
	}
	if f.Slow > 0 && f.SlowRate == 0 {
		f.SlowRate = 1
	}
	return f, nil
}

func (r *Receiver) reject(w http.ResponseWriter, code int, err error) {
	r.mu.Lock()
	r.stats.Rejected++
	r.mu.Unlock()
	r.log.Info("request rejected", zap.Int("status", code), zap.Error(err))
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // HTTP/2: reset the stream
}

func hashIDs(ids []int64) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, id := range ids {
		for i := range b {
			b[i] = byte(id >> (8 * i))
		}
		h.Write(b[:])
	}
	return h.Sum64()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// FieldError is the error of Run and Serve for a Config value they refuse,
// the listening address included: Field names the Config field
// ("Faults.FailRate" for a field of Faults).
type FieldError = field.Error

// validate refuses fault settings that make no sense; an error is a
// *FieldError.
func (f *Faults) validate() error {
	for _, r := range []struct {
		field string
		v     float64
	}{
		{"FailRate", f.FailRate}, {"ThrottleRate", f.ThrottleRate}, {"DropRate", f.DropRate}, {"SlowRate", f.SlowRate},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			return field.Refuse("Faults."+r.field, "must be a fraction in [0,1]")
		}
	}
	switch {
	case f.FailRate+f.ThrottleRate+f.DropRate > 1:
		return field.Refuse("Faults.FailRate", "fail, throttle and drop rates add up to more than 1")
	case f.Slow < 0:
		return field.Refuse("Faults.Slow", "must not be negative")
	case f.RetryAfter < 0:
		return field.Refuse("Faults.RetryAfter", "must not be negative")
	}
	return nil
}

// Run is `enricher receiver`: it validates cfg, listens on cfg.Addr and
// serves there (Serve). A refused Config, or an Addr it cannot listen on,
// is a *FieldError returned before anything is served.
func Run(ctx context.Context, cfg Config) error {
	if err := field.CheckHostPort("Addr", cfg.Addr); err != nil {
		return err
	}
	if err := cfg.Faults.validate(); err != nil {
		return err
	}
	ln, err := field.Listen("Addr", cfg.Addr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, ln)
}

// Serve serves a Receiver configured by cfg on ln (cfg.Addr is not read)
// until ctx ends (it then shuts down gracefully, letting requests in flight
// finish, and returns nil) or serving fails. Fault settings that make no
// sense are a *FieldError returned before anything is served. ln is closed
// when Serve returns.
func Serve(ctx context.Context, cfg Config, ln net.Listener) error {
	if err := cfg.Faults.validate(); err != nil {
		ln.Close()
		return err
	}
	return serve(ctx, cfg, ln)
}

func serve(ctx context.Context, cfg Config, ln net.Listener) error {
	r := New(cfg)
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.Faults.Slow + 30*time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          zap.NewStdLog(r.log),
	}
	f := cfg.Faults
	r.log.Info("receiver listening", zap.String("addr", ln.Addr().String()), zap.Float64("fail_rate", f.FailRate),
		zap.Float64("throttle_rate", f.ThrottleRate), zap.Float64("drop_rate", f.DropRate),
		zap.Duration("slow", f.Slow), zap.Float64("slow_rate", f.SlowRate))
	g := rungroup.New(ctx, r.log)
	g.Serve(srv, ln)
	return g.Run()
}
