package dlq

import (
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestRecord(t *testing.T) {
	now := time.Date(2025, 3, 10, 9, 15, 0, 0, time.FixedZone("x", 3*3600))
	src := kafka.Message{Topic: "in", Partition: 2, Offset: 41, Key: []byte("k"), Value: []byte("v"),
		Headers: []kafka.Header{{Key: "orig", Value: []byte("1")}}}
	got := Record("enricher.dlq", src, "decode", errors.New("bad json"), now)
	if got.Topic != "enricher.dlq" || string(got.Key) != "k" || string(got.Value) != "v" {
		t.Fatalf("got topic %q key %q value %q, want the original bytes on enricher.dlq", got.Topic, got.Key, got.Value)
	}
	for _, tc := range []struct{ key, want string }{
		{HeaderError, "bad json"},
		{HeaderStage, "decode"},
		{HeaderTopic, "in"},
		{HeaderPartition, "2"},
		{HeaderOffset, "41"},
		{HeaderFailedAt, "2025-03-10T06:15:00Z"},
		{"orig", "1"},
	} {
		if v := Header(got, tc.key); v != tc.want {
			t.Errorf("header %s: got %q, want %q", tc.key, v, tc.want)
		}
	}
}
