package dlq

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
)

// Headers a replay adds, so that a replayed record that fails again comes
// back to the DLQ recognisable: dlq.Record keeps them among the original
// headers, after its own.
const (
	HeaderReplayCount = "dlq.replay.count"
	HeaderReplayFrom  = "dlq.replay.from"
)

// Position is where a record was in a topic.
type Position struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
}

func (p Position) String() string {
	return p.Topic + "/" + strconv.Itoa(p.Partition) + "/" + strconv.FormatInt(p.Offset, 10)
}

// Entry is one record of the DLQ topic with its headers parsed.
type Entry struct {
	Partition int
	Offset    int64
	Time      time.Time // the record's own timestamp
	Key       []byte
	Value     []byte
	Headers   []kafka.Header // as stored: the dlq.* ones first, then the original ones

	Stage  string
	Reason string
	// FailedAt is dlq.failed_at; zero when absent or not RFC 3339.
	FailedAt time.Time
	// Source is where the record was read when it failed.
	Source Position
	// Replays is how many times the record was replayed before it came back
	// here (dlq.replay.count among its original headers); 0 for a first failure.
	Replays int
	// ReplayFrom is the DLQ position it was last replayed from, "" if never.
	ReplayFrom string
	// Foreign is set when the record lacks this service's headers (no
	// dlq.stage or dlq.source.*, or one of them unparsable): someone else
	// wrote it, and it is never replayed unless forced. ForeignWhy says why.
	Foreign    bool
	ForeignWhy string
}

// When is the time a filter's range applies to: dlq.failed_at, or the
// record's timestamp when that is absent.
func (e Entry) When() time.Time {
	if !e.FailedAt.IsZero() {
		return e.FailedAt
	}
	return e.Time
}

// Parse reads a DLQ record's headers. It never fails: what cannot be read
// makes the entry Foreign.
func Parse(m kafka.Message) Entry {
	e := Entry{Partition: m.Partition, Offset: m.Offset, Time: m.Time, Key: m.Key, Value: m.Value, Headers: m.Headers}
	h := map[string]string{}
	for _, x := range m.Headers {
		if _, dup := h[x.Key]; !dup { // the first is ours; later ones are the original record's
			h[x.Key] = string(x.Value)
		}
	}
	e.Stage, e.Reason = h[HeaderStage], h[HeaderError]
	e.Source.Topic = h[HeaderTopic]
	var why []string
	if e.Stage == "" {
		why = append(why, "no "+HeaderStage)
	}
	if e.Source.Topic == "" {
		why = append(why, "no "+HeaderTopic)
	}
	if p, err := strconv.ParseInt(h[HeaderPartition], 10, 32); err != nil || p < 0 {
		why = append(why, HeaderPartition+" "+strconv.Quote(h[HeaderPartition])+" is not a partition")
	} else {
		e.Source.Partition = int(p)
	}
	if o, err := strconv.ParseInt(h[HeaderOffset], 10, 64); err != nil || o < 0 {
		why = append(why, HeaderOffset+" "+strconv.Quote(h[HeaderOffset])+" is not an offset")
	} else {
		e.Source.Offset = o
	}
	if s, ok := h[HeaderFailedAt]; ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			e.FailedAt = t.UTC()
		}
	}
	if s, ok := h[HeaderReplayCount]; ok {
		// An unreadable count is treated as "replayed already": the safe side
		// of --max-replays.
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.Replays = n
		} else {
			e.Replays = 1 << 20
		}
	}
	e.ReplayFrom = h[HeaderReplayFrom]
	if len(why) > 0 {
		e.Foreign, e.ForeignWhy = true, strings.Join(why, "; ")
	}
	return e
}

// HeaderEnricherSource is the enricher's exactly-once marker
// (enricher.HeaderSource), which it appends to its DLQ records after the
// original headers: the position of the input the record stands for. It is
// not the original record's, and a replayed record that failed again would
// carry the stale one first, so it is stripped with the dlq.* headers.
const HeaderEnricherSource = "enricher.src"

// OriginalHeaders returns the headers of the record as it was before it
// failed: every dlq.* header removed (ours and those of earlier replays),
// and the enricher's position marker.
func (e Entry) OriginalHeaders() []kafka.Header {
	out := make([]kafka.Header, 0, len(e.Headers))
	for _, h := range e.Headers {
		if !strings.HasPrefix(h.Key, "dlq.") && h.Key != HeaderEnricherSource {
			out = append(out, h)
		}
	}
	return out
}

// Filter selects entries; its zero value selects every one.
type Filter struct {
	Stage       string    // exact
	Reason      string    // case-insensitive substring of dlq.error
	SourceTopic string    // exact dlq.source.topic
	Since       time.Time // When() at or after, when set
	Until       time.Time // When() before, when set
}

// Empty says whether f selects every entry.
func (f Filter) Empty() bool { return f == Filter{} }

// Check refuses a range that selects nothing.
func (f Filter) Check() error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return errors.New("since must be before until")
	}
	return nil
}

// Match says whether f selects e.
func (f Filter) Match(e Entry) bool {
	switch {
	case f.Stage != "" && e.Stage != f.Stage:
		return false
	case f.Reason != "" && !strings.Contains(strings.ToLower(e.Reason), strings.ToLower(f.Reason)):
		return false
	case f.SourceTopic != "" && e.Source.Topic != f.SourceTopic:
		return false
	case !f.Since.IsZero() && e.When().Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.When().Before(f.Until):
		return false
	}
	return true
}

// Text renders the first n bytes of b (all of it when n < 1) as text for
// a person: a rune the cut splits is dropped, and each byte that is not
// UTF-8, or is a control character other than newline and tab, is
// written \xNN (so a binary header cannot move a terminal's cursor).
func Text(b []byte, n int) string {
	if n > 0 && len(b) > n {
		b = b[:n]
		// Drop a rune cut short at the end rather than escape its first bytes.
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if (r == utf8.RuneError && size == 1) || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			const hex = "0123456789abcdef"
			out = append(out, '\\', 'x', hex[b[0]>>4], hex[b[0]&15])
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return string(out)
}
