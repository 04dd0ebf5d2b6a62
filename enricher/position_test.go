package enricher

import (
	"errors"
	"math"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestCommitMetaRoundTrip(t *testing.T) {
	for _, c := range []commitMeta{
		{out: scanFrom{0, 0}, dlq: scanFrom{0, 0}},
		{out: scanFrom{5, 123456789}, dlq: scanFrom{0, 42}},
		{out: scanFrom{2047, math.MaxInt64}, dlq: scanFrom{1, 1}},
	} {
		got, err := parseCommitMeta(c.String())
		if err != nil || got != c {
			t.Errorf("parse(%q): got %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
}

func TestCommitMetaRefusesOtherForms(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty, as an older version commits", ""},
		{"another consumer's metadata", "some-client 1.2"},
		{"one position only", "eo1 o=1@2"},
		{"positions swapped", "eo1 d=1@2 o=3@4"},
		{"three positions", "eo1 o=1@2 d=3@4 x=5@6"},
		{"negative offset", "eo1 o=1@-2 d=3@4"},
		{"not a number", "eo1 o=a@2 d=3@4"},
		{"no offset", "eo1 o=1 d=3@4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := parseCommitMeta(tc.in); !errors.Is(err, errNoMeta) {
				t.Fatalf("parse(%q): got %+v, %v; want errNoMeta", tc.in, got, err)
			}
		})
	}
}

func TestSourcePosHeader(t *testing.T) {
	p := sourcePos{topicHash("thmanyah.public.engagement_events"), 7, 1<<40 + 3}
	m := kafka.Message{Headers: []kafka.Header{{Key: "other", Value: []byte("x")}, {Key: HeaderSource, Value: appendSourcePos(nil, p)}}}
	if got, ok := sourcePosOf(&m); !ok || got != p {
		t.Fatalf("got %+v, %v; want %+v", got, ok, p)
	}
	for name, hs := range map[string][]kafka.Header{
		"no headers":   nil,
		"other header": {{Key: "source.offset", Value: []byte("12")}},
		"short value":  {{Key: HeaderSource, Value: []byte{1, 2, 3}}},
	} {
		if got, ok := sourcePosOf(&kafka.Message{Headers: hs}); ok {
			t.Errorf("%s: got %+v; want none", name, got)
		}
	}
}

func TestTargetPartition(t *testing.T) {
	// Fixed: the same input partition always lands on the same target.
	if a, b := targetPartition("t", 3, 6), targetPartition("t", 3, 6); a != b {
		t.Fatalf("not deterministic: %d then %d", a, b)
	}
	// A topic with as many partitions as the target uses every one.
	seen := map[int]bool{}
	for p := range 6 {
		got := targetPartition("thmanyah.public.engagement_events", p, 6)
		if got < 0 || got >= 6 {
			t.Fatalf("partition %d → %d, out of range", p, got)
		}
		seen[got] = true
	}
	if len(seen) != 6 {
		t.Errorf("6 input partitions use %d of 6 output partitions", len(seen))
	}
	if got := targetPartition("t", 5, 1); got != 0 {
		t.Errorf("one target partition: got %d", got)
	}
}

func TestExplicitPartitionBalancer(t *testing.T) {
	if got := (explicitPartition{}).Balance(kafka.Message{Partition: 4}, 0, 1, 2, 3, 4, 5); got != 4 {
		t.Fatalf("got %d, want the message's partition 4", got)
	}
}
