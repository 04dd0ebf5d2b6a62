package httpsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/schemas"
)

// errStopped means the generation ended before the batch was done with.
var errStopped = errors.New("stopped")

// prepare decodes a batch into its request body (b.body, b.sent) and its
// dead letters (b.dead). It returns false when the generation ended first.
func (s *Sink) prepare(stop, work context.Context, b *batch) bool {
	now := time.Now()
	b.dead, b.sent = b.dead[:0], b.sent[:0]
	body := append(b.body[:0], `{"events":[`...)
	for i := range b.msgs {
		o, err := s.decode(stop, work, &b.msgs[i])
		if errors.Is(err, errStopped) {
			return false
		}
		if err != nil {
			s.m.dlqRecords.WithLabelValues("decode").Inc()
			b.dead = append(b.dead, dlq.Record(s.cfg.DLQTopic, b.msgs[i], Stage, fmt.Errorf("decode: %w", err), now))
			continue
		}
		if len(b.sent) > 0 {
			body = append(body, ',')
		}
		body = AppendEvent(body, &o)
		b.sent = append(b.sent, i)
	}
	b.body = append(body, "]}"...)
	return true
}

// send POSTs a prepared batch and dead-letters what must be. It returns
// false when the generation ended first: nothing is committed then.
func (s *Sink) send(stop, work context.Context, b *batch) bool {
	s.m.batchSize.Observe(float64(len(b.msgs)))
	if n := len(b.sent); n > 0 {
		start := time.Now()
		reason, err := s.deliver(stop, work, b, b.body)
		switch {
		case errors.Is(err, errStopped):
			return false
		case err != nil:
			s.log.Warn("batch to dlq", zap.String("key", b.key), zap.Int("records", n), zap.Error(err))
			s.m.dlqRecords.WithLabelValues(reason).Add(float64(n))
			for _, i := range b.sent {
				b.dead = append(b.dead, dlq.Record(s.cfg.DLQTopic, b.msgs[i], Stage, err, time.Now()))
			}
		default:
			s.delivered.Add(int64(n))
			s.m.events.WithLabelValues("delivered").Add(float64(n))
		}
		s.m.batchTime.Observe(time.Since(start).Seconds())
	}
	if len(b.dead) > 0 {
		if err := s.produceDLQ(stop, work, b.dead); err != nil {
			return false
		}
		s.dead.Add(int64(len(b.dead)))
		s.m.events.WithLabelValues("dlq").Add(float64(len(b.dead)))
	}
	return true
}

func (s *Sink) decode(stop, work context.Context, m *kafka.Message) (schemas.Output, error) {
	for attempt := 0; ; attempt++ {
		o, err := s.cfg.Decoder.Decode(work, m.Value)
		if err == nil || schemas.Poison(err) {
			return o, err
		}
		if stop.Err() != nil {
			return o, errStopped
		}
		s.m.retries.WithLabelValues("schema_registry").Inc()
		s.log.Warn("decode; retrying", zap.Int64("offset", m.Offset), zap.Error(err))
		if s.cfg.Backoff.Wait(stop, attempt) != nil {
			return o, errStopped
		}
	}
}

// deliver POSTs body until the endpoint acknowledges it, rejects it (4xx
// other than 408 and 429), or the retries are spent. It returns the DLQ
// reason and error when the batch must be dead-lettered, errStopped when the
// generation ended first.
func (s *Sink) deliver(stop, work context.Context, b *batch, body []byte) (string, error) {
	for attempt := 0; ; attempt++ {
		probe, err := s.br.allow(stop)
		if err != nil {
			return "", errStopped
		}
		if err := s.waitThrottle(stop); err != nil {
			s.br.abandon(probe)
			return "", errStopped
		}
		select {
		case s.sem <- struct{}{}:
		case <-stop.Done():
			s.br.abandon(probe)
			return "", errStopped
		}
		a := s.post(work, b, body)
		<-s.sem
		s.br.done(probe, a.verdict)
		switch {
		case a.err == nil:
			return "", nil
		case a.permanent:
			return "rejected", a.err
		case attempt >= s.cfg.MaxRetries:
			return "retries_exhausted", fmt.Errorf("%d attempts failed, the last: %w", attempt+1, a.err)
		case stop.Err() != nil:
			return "", errStopped
		}
		s.m.retries.WithLabelValues(a.class).Inc()
		s.log.Info("post failed; retrying", zap.String("key", b.key), zap.Int("attempt", attempt+1), zap.Error(a.err))
		if a.retryAfter > 0 {
			s.throttle(a.retryAfter) // waited for, by every partition, at the top of the loop
			continue
		}
		if s.cfg.Backoff.Wait(stop, attempt) != nil {
			return "", errStopped
		}
	}
}

// attempt is the outcome of one POST.
type attempt struct {
	class      string // metric label: 2xx, 3xx, 4xx, 5xx, 408, 429, timeout, error
	verdict    verdict
	permanent  bool
	retryAfter time.Duration
	err        error // nil when acknowledged
}

func (s *Sink) post(work context.Context, b *batch, body []byte) attempt {
	ctx, cancel := context.WithTimeout(work, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return attempt{class: "error", permanent: true, err: fmt.Errorf("build request: %w", err)}
	}
	for k, v := range s.cfg.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", b.key)
	start := time.Now()
	s.m.inflight.Inc()
	res, err := s.cfg.Client.Do(req)
	var snippet string
	if err == nil {
		snippet, err = readSnippet(res.Body)
		_ = res.Body.Close()
	}
	s.m.inflight.Dec()
	s.m.requestTime.Observe(time.Since(start).Seconds())
	if err != nil {
		a := attempt{class: "error", verdict: verdictFail, err: fmt.Errorf("post: %w", err)}
		switch {
		case work.Err() != nil:
			a.verdict = verdictNeutral // we gave up, the endpoint did not fail
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			a.class, a.err = "timeout", fmt.Errorf("post: no answer within %v: %w", s.cfg.Timeout, err)
		}
		s.m.requests.WithLabelValues(a.class).Inc()
		return a
	}
	code := res.StatusCode
	s.m.requests.WithLabelValues(strconv.Itoa(code/100) + "xx").Inc()
	statusErr := fmt.Errorf("http status %d (%s): %s", code, http.StatusText(code), snippet)
	switch {
	case code >= 200 && code < 300:
		return attempt{class: "2xx", verdict: verdictOK}
	case code == http.StatusTooManyRequests:
		ra, _ := parseRetryAfter(res.Header.Get("Retry-After"), time.Now())
		return attempt{class: "429", verdict: verdictNeutral, retryAfter: ra, err: statusErr}
	case code == http.StatusRequestTimeout:
		return attempt{class: "408", verdict: verdictFail, err: statusErr}
	case code >= 500:
		ra, _ := parseRetryAfter(res.Header.Get("Retry-After"), time.Now())
		return attempt{class: "5xx", verdict: verdictFail, retryAfter: ra, err: statusErr}
	default: // other 4xx, unfollowed 3xx, 1xx: the endpoint is up and refuses this batch
		return attempt{class: strconv.Itoa(code/100) + "xx", verdict: verdictOK, permanent: true, err: statusErr}
	}
}

// readSnippet returns the start of a response body for the DLQ error, and
// drains a little more so the connection can be reused.
func readSnippet(r io.Reader) (string, error) {
	buf := make([]byte, 256)
	n, err := io.ReadFull(r, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", err
	}
	_, _ = io.CopyN(io.Discard, r, 64<<10)
	s := strings.ToValidUTF8(string(buf[:n]), "\uFFFD")
	return strings.Join(strings.Fields(s), " "), nil
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 1<<32)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// throttle holds every POST back for d (capped by MaxRetryAfter).
func (s *Sink) throttle(d time.Duration) {
	d = min(d, s.cfg.MaxRetryAfter)
	until := time.Now().Add(d)
	s.throttleMu.Lock()
	if until.After(s.notBefore) {
		s.notBefore = until
	}
	s.throttleMu.Unlock()
}

// waitThrottle waits out a Retry-After, plus a little jitter so the
// partitions do not all come back at once.
func (s *Sink) waitThrottle(ctx context.Context) error {
	s.throttleMu.Lock()
	d := time.Until(s.notBefore)
	s.throttleMu.Unlock()
	if d <= 0 {
		return nil
	}
	return retry.Sleep(ctx, d+rand.N(d/10+1))
}

// produceDLQ writes the dead letters, retrying until the broker
// acknowledged them or the generation ended.
func (s *Sink) produceDLQ(stop, work context.Context, recs []kafka.Message) error {
	for attempt := 0; ; attempt++ {
		err := s.cfg.DLQ.WriteMessages(work, recs...)
		if err == nil {
			return nil
		}
		if stop.Err() != nil {
			return errStopped
		}
		s.m.retries.WithLabelValues("dlq").Inc()
		s.log.Warn("produce dlq records; retrying", zap.Int("records", len(recs)), zap.Error(err))
		if s.cfg.Backoff.Wait(stop, attempt) != nil {
			return errStopped
		}
	}
}
