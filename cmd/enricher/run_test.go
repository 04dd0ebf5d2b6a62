package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/testkafka"
)

// TestReadyzNamesUnreachableKafka: with no broker listening, /readyz says
// plainly that Kafka is unreachable, naming the broker and the network
// error; once a broker answers there, /readyz goes to 200.
func TestReadyzNamesUnreachableKafka(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()

	tm := startMain(t, testConfig([]string{addr}, t.TempDir()))
	want := "kafka unreachable at " + addr + ": dial tcp " + addr + ": connect: connection refused"
	var last string
	testkafka.Eventually(t, 30*time.Second, "/readyz to name the unreachable broker", func() bool {
		var body struct {
			Ready  bool   `json:"ready"`
			Reason string `json:"reason"`
		}
		code := tm.getJSON("/readyz", &body)
		last = strconv.Itoa(code) + " " + body.Reason
		return code == http.StatusServiceUnavailable && body.Reason == want
	})
	if strings.Contains(last, "Broker Not Available") {
		t.Fatalf("/readyz: got %q, want no client jargon", last)
	}

	kc := testkafka.New(t, kfake.Ports(port))
	kc.Topic(contentTopic, 1, nil)
	tm.waitReady(60 * time.Second)
}

// TestStatsEngagementPositions: /debug/stats shows, beside the content
// view's partitions, the consumer group's position in every engagement
// topic-partition it committed: next offset, end offset, lag.
func TestStatsEngagementPositions(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 1, nil)
	kc.Topic(eventsTopic, 3, nil)
	kc.Topic(backfillTopic, 1, nil)
	kc.Topic(outputTopic, 1, nil)
	tm := startMain(t, testConfig(kc.Addrs(), t.TempDir()))
	tm.waitReady(30 * time.Second)

	perPartition := map[kafkax.PartitionStatus]int{ // key: topic and partition
		{Topic: eventsTopic, Partition: 0}:   7,
		{Topic: eventsTopic, Partition: 1}:   3,
		{Topic: backfillTopic, Partition: 0}: 5,
	}
	var recs []*kgo.Record
	id := int64(0)
	for tp, n := range perPartition {
		for range n {
			// No content id: enriched at once, without waiting for the view.
			recs = append(recs, &kgo.Record{Topic: tp.Topic, Partition: int32(tp.Partition),
				Key: []byte(strconv.FormatInt(id, 10)), Value: plainEvent(id, nil, time.Now(), i32(1000))})
			id++
		}
	}
	kc.Produce(recs...)

	var stats map[string]json.RawMessage
	var got []kafkax.PartitionStatus
	testkafka.Eventually(t, 60*time.Second, "/debug/stats to show every event committed", func() bool {
		tm.getJSON("/debug/stats", &stats)
		got = nil
		if err := json.Unmarshal(stats["engagement"], &got); err != nil {
			t.Fatalf("engagement: %s is not a list of positions: %v", stats["engagement"], err)
		}
		done := 0
		for _, p := range got {
			done += int(p.Offset)
		}
		return done == int(id)
	})
	want := []kafkax.PartitionStatus{
		{Topic: backfillTopic, Partition: 0, Offset: 5, EndOffset: 5},
		{Topic: eventsTopic, Partition: 0, Offset: 7, EndOffset: 7},
		{Topic: eventsTopic, Partition: 1, Offset: 3, EndOffset: 3},
		// Every partition the member owns, even one that never had a record:
		// its starting position is committed before any output is written.
		{Topic: eventsTopic, Partition: 2, Offset: 0, EndOffset: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("engagement: got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("engagement[%d]: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, key := range []string{"content_rows", "ready", "partitions", "enricher"} {
		if _, ok := stats[key]; !ok {
			t.Errorf("/debug/stats: no %q; it must keep every key it had", key)
		}
	}
}

// TestNewMainChecksBrokers: a RunConfig built without flags (tests, the
// demo) gets the same broker check as --brokers.
func TestNewMainChecksBrokers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		brokers []string
		wantErr string
	}{
		{"none", nil, "--brokers ($KAFKA_BROKERS): no broker given"},
		{"not host:port", []string{"localhost:9092", "kafka"}, `--brokers ($KAFKA_BROKERS): "kafka" is not host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMain(testConfig(tc.brokers, t.TempDir()), nil)
			if err == nil {
				m.Close()
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}
