package dlq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/thmanyah/enricher/internal/testkafka"
)

const dlqTopic = "enricher.dlq"

var t0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

// dead is a DLQ record as the service writes it (dlq.Record), produced
// with franz-go rather than the service's client.
func dead(partition int32, srcTopic string, srcOffset int64, stage, reason string, at time.Time, extra ...kafka.Header) *kgo.Record {
	src := kafka.Message{Topic: srcTopic, Partition: 1, Offset: srcOffset, Key: []byte("k" + strconv.FormatInt(srcOffset, 10)),
		Value: []byte(`{"id":` + strconv.FormatInt(srcOffset, 10) + `}`), Headers: append([]kafka.Header{{Key: "orig", Value: []byte("o")}}, extra...)}
	m := Record(dlqTopic, src, stage, errors.New(reason), at)
	r := &kgo.Record{Topic: dlqTopic, Partition: partition, Key: m.Key, Value: m.Value, Timestamp: at}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

// seeded is a two-partition DLQ: partition 0 holds offsets 0..4 (source
// offsets 100..104), partition 1 offsets 0..2 (200..202) and a foreign record.
func seeded(t *testing.T) (*testkafka.Cluster, *Reader) {
	t.Helper()
	kc := testkafka.New(t)
	kc.Topic(dlqTopic, 2, nil)
	kc.Topic("events", 1, nil)
	kc.Topic("content", 1, nil)
	for i := range 5 {
		kc.Produce(dead(0, "events", int64(100+i), "enricher.decode", "event_ts: \"yesterday\" is not a time", t0.Add(time.Duration(2*i)*time.Minute)))
	}
	for i := range 3 {
		kc.Produce(dead(1, "content", int64(200+i), "cdc.decode", "Bad JSON", t0.Add(time.Duration(2*i+1)*time.Minute)))
	}
	kc.Produce(&kgo.Record{Topic: dlqTopic, Partition: 1, Key: []byte("f"), Value: []byte("from elsewhere"), Timestamp: t0.Add(time.Hour),
		Headers: []kgo.RecordHeader{{Key: "dlq.error", Value: []byte("x")}, {Key: "dlq.source.offset", Value: []byte("twelve")}}})
	r, err := NewReader(ReaderConfig{Brokers: kc.Addrs(), Topic: dlqTopic, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return kc, r
}

func positions(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = strconv.Itoa(e.Partition) + "/" + strconv.FormatInt(e.Offset, 10)
	}
	return out
}

func TestList(t *testing.T) {
	_, r := seeded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name  string
		f     Filter
		limit int
		want  []string
	}{
		// failed_at: p0 at 0,2,4,6,8 min; p1 at 1,3,5 min; the foreign one has
		// no failed_at and its record time is +60 min.
		{name: "latest across partitions, newest first", limit: 4, want: []string{"1/3", "0/4", "0/3", "1/2"}},
		{name: "everything", limit: 0, want: []string{"1/3", "0/4", "0/3", "1/2", "0/2", "1/1", "0/1", "1/0", "0/0"}},
		{name: "stage is exact", f: Filter{Stage: "cdc.decode"}, limit: 10, want: []string{"1/2", "1/1", "1/0"}},
		{name: "stage prefix is not a match", f: Filter{Stage: "cdc"}, limit: 10, want: []string{}},
		{name: "reason is a case-insensitive substring", f: Filter{Reason: "bad json"}, limit: 2, want: []string{"1/2", "1/1"}},
		{name: "source topic", f: Filter{SourceTopic: "events"}, limit: 2, want: []string{"0/4", "0/3"}},
		{name: "time range on failed_at", f: Filter{Since: t0.Add(3 * time.Minute), Until: t0.Add(6 * time.Minute)}, limit: 10, want: []string{"1/2", "0/2", "1/1"}},
		{name: "time range falls back to the record time", f: Filter{Since: t0.Add(59 * time.Minute)}, limit: 10, want: []string{"1/3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.List(ctx, tc.f, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if g := positions(got); len(g) != len(tc.want) || (len(g) > 0 && !equal(g, tc.want)) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestListScansBackwardsInWindows(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(dlqTopic, 1, nil)
	// 300 records; only the oldest 3 match: List must reach back past its
	// first window (64) to find them, and MaxScan must stop it short.
	var recs []*kgo.Record
	for i := range 300 {
		stage := "late"
		if i < 3 {
			stage = "early"
		}
		recs = append(recs, dead(0, "events", int64(i), stage, "r", t0.Add(time.Duration(i)*time.Second)))
	}
	kc.Produce(recs...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name    string
		maxScan int
		want    []string
	}{
		{"reaches the start", 0, []string{"0/2", "0/1", "0/0"}},
		{"stops at the scan bound", 298, []string{"0/2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(ReaderConfig{Brokers: kc.Addrs(), Topic: dlqTopic, MaxScan: tc.maxScan})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.List(ctx, Filter{Stage: "early"}, 10)
			if err != nil {
				t.Fatal(err)
			}
			if g := positions(got); !equal(g, tc.want) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
}

func TestGetAndParse(t *testing.T) {
	_, r := seeded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := r.Get(ctx, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Partition: 0, Offset: 2, Stage: "enricher.decode", Reason: `event_ts: "yesterday" is not a time`,
		FailedAt: t0.Add(4 * time.Minute), Source: Position{Topic: "events", Partition: 1, Offset: 102}}
	if e.Partition != want.Partition || e.Offset != want.Offset || e.Stage != want.Stage || e.Reason != want.Reason ||
		!e.FailedAt.Equal(want.FailedAt) || e.Source != want.Source || e.Foreign || e.Replays != 0 || string(e.Key) != "k102" || string(e.Value) != `{"id":102}` {
		t.Fatalf("got %+v, want %+v with key k102", e, want)
	}
	if h := e.OriginalHeaders(); len(h) != 1 || h[0].Key != "orig" {
		t.Fatalf("original headers: got %v, want only orig", h)
	}

	f, err := r.Get(ctx, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Foreign || f.ForeignWhy == "" {
		t.Fatalf("record without the service's headers: got foreign %v (%q), want foreign", f.Foreign, f.ForeignWhy)
	}

	for _, tc := range []struct {
		name      string
		partition int
		offset    int64
	}{
		{"past the end", 0, 5},
		{"no such partition", 7, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Get(ctx, tc.partition, tc.offset); !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	}
}

func TestParseForeign(t *testing.T) {
	ours := Record(dlqTopic, kafka.Message{Topic: "in", Partition: 2, Offset: 9}, "s", errors.New("e"), t0)
	for _, tc := range []struct {
		name    string
		m       kafka.Message
		foreign bool
		replays int
	}{
		{"the service's record", ours, false, 0},
		{"no headers", kafka.Message{}, true, 0},
		{"partition not a number", withHeader(ours, HeaderPartition, "two"), true, 0},
		{"negative offset", withHeader(ours, HeaderOffset, "-1"), true, 0},
		{"replayed twice before", Record(dlqTopic, kafka.Message{Topic: "in", Headers: []kafka.Header{{Key: HeaderReplayCount, Value: []byte("2")}}}, "s", nil, t0), false, 2},
		{"unreadable replay count counts as replayed", Record(dlqTopic, kafka.Message{Topic: "in", Headers: []kafka.Header{{Key: HeaderReplayCount, Value: []byte("x")}}}, "s", nil, t0), false, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Parse(tc.m)
			if e.Foreign != tc.foreign || e.Replays != tc.replays {
				t.Fatalf("got foreign %v (%s) replays %d, want foreign %v replays %d", e.Foreign, e.ForeignWhy, e.Replays, tc.foreign, tc.replays)
			}
		})
	}
}

// withHeader returns m with the first header named key set to v.
func withHeader(m kafka.Message, key, v string) kafka.Message {
	h := append([]kafka.Header(nil), m.Headers...)
	for i := range h {
		if h[i].Key == key {
			h[i].Value = []byte(v)
			break
		}
	}
	m.Headers = h
	return m
}

func TestReaderUnreachable(t *testing.T) {
	r, err := NewReader(ReaderConfig{Brokers: []string{"127.0.0.1:1"}, Topic: dlqTopic})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = r.List(ctx, Filter{}, 10)
	if !strings.Contains(fmt.Sprint(err), "kafka unreachable at 127.0.0.1:1") {
		t.Fatalf("got %v, want an error saying kafka is unreachable", err)
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"plain", "héllo", 0, "héllo"},
		{"invalid byte", "a\xffb", 0, `a\xffb`},
		{"controls escaped, newline and tab kept", "a\x00b\x1b[2J\n\tc\x7f", 0, "a\\x00b\\x1b[2J\n\tc\\x7f"},
		{"cut inside a rune drops it", "abé", 3, "ab"},
		{"cut after a rune keeps it", "abé", 4, "abé"},
		{"cut on an invalid byte escapes it", "ab\xff\xff", 3, `ab\xff`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text([]byte(tc.in), tc.n); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOriginalHeadersDropTheEnrichersMarker(t *testing.T) {
	m := Record(dlqTopic, kafka.Message{Topic: "in", Headers: []kafka.Header{{Key: "trace", Value: []byte("t")}}}, "s", nil, t0)
	m.Headers = append(m.Headers, kafka.Header{Key: HeaderEnricherSource, Value: make([]byte, 16)}) // as the enricher adds it
	h := Parse(m).OriginalHeaders()
	if len(h) != 1 || h[0].Key != "trace" {
		t.Fatalf("got %v, want only the original trace header", h)
	}
}
