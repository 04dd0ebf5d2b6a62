package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/enricher"
	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/testkafka"
)

// runDLQ runs `enricher dlq args...` as main does, and returns its stdout.
func runDLQ(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"dlq"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// endOffsets sums the end offsets of topic's partitions: exact once the
// writes before it were acknowledged.
func endOffsets(t *testing.T, kc *testkafka.Cluster, topic string, partitions int) int64 {
	t.Helper()
	var req []kafka.OffsetRequest
	for p := range partitions {
		req = append(req, kafka.LastOffsetOf(p))
	}
	cl := &kafka.Client{Addr: kafka.TCP(kc.Addrs()...), Timeout: 10 * time.Second}
	res, err := cl.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var n int64
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, p.Partition, p.Error)
		}
		n += p.LastOffset
	}
	return n
}

// TestDLQFixAndReplay is the operator's path end to end: an event with a bad
// field goes to the DLQ; list finds it, show --value-only gives its value,
// the field is fixed and replay --value-file sends it back; the service
// enriches it exactly once, and replaying again sends nothing.
func TestDLQFixAndReplay(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 3, map[string]string{"cleanup.policy": "compact"})
	kc.Topic(eventsTopic, 3, nil)
	kc.Topic(backfillTopic, 1, nil)
	kc.Topic(outputTopic, 3, nil)
	kc.Topic("enricher.dlq", 1, nil)
	w, err := dbztest.New()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	id, podcast := uuid.New(), "podcast"
	kc.Produce(&kgo.Record{Topic: contentTopic, Partition: partitionOf(id), Key: w.Key(dbztest.FormPlain, id),
		Value: w.Change(dbztest.FormPlain, 'c', &dbztest.Content{ID: id, Slug: "s", Title: "t", ContentType: &podcast, LengthSeconds: i32(1200), PublishTS: t0},
			dbztest.Source{LSN: 8, TsMs: t0.UnixMilli()})})
	tm := startMain(t, testConfig(kc.Addrs(), t.TempDir()))
	tm.waitReady(30 * time.Second)

	// The bad field: event_ts is not a time.
	good := plainEvent(500, &id, t0.Add(time.Minute), i32(6000))
	bad := bytes.Replace(good, []byte(`"2025-03-10T09:01:00Z"`), []byte(`"yesterday at nine"`), 1)
	if bytes.Equal(bad, good) {
		t.Fatalf("the test's event %s has no event_ts to spoil", good)
	}
	kc.Produce(&kgo.Record{Topic: eventsTopic, Partition: 1, Key: []byte("500"), Value: bad,
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-1")}}})
	if dead := kc.ReadAll("enricher.dlq", 1, 30*time.Second); len(dead) != 1 {
		t.Fatalf("dlq: got %d records, want the bad event", len(dead))
	}
	// The console's view of it, through the running service.
	var page struct {
		Items []struct {
			Stage   string `json:"stage"`
			Replays int    `json:"replays"`
			Key     string `json:"key"`
		} `json:"items"`
		Topic string `json:"topic"`
	}
	if code := tm.getJSON("/debug/dlq?source_topic="+eventsTopic, &page); code != 200 || len(page.Items) != 1 ||
		page.Items[0].Stage != "enricher.decode" || page.Items[0].Key != "500" || page.Topic != "enricher.dlq" {
		t.Fatalf("/debug/dlq: got %d %+v, want the bad event", code, page)
	}
	brokers := "--brokers=" + strings.Join(kc.Addrs(), ",")

	out, err := runDLQ(t, "list", brokers, "--stage", "enricher.decode", "--json")
	if err != nil {
		t.Fatalf("dlq list: %v", err)
	}
	var listed struct {
		Topic string `json:"topic"`
		Items []struct {
			Partition int    `json:"partition"`
			Offset    int64  `json:"offset"`
			Stage     string `json:"stage"`
			Reason    string `json:"reason"`
			Foreign   bool   `json:"foreign"`
			Source    struct {
				Topic     string `json:"topic"`
				Partition int    `json:"partition"`
			} `json:"source"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("dlq list --json: %q: %v", out, err)
	}
	if len(listed.Items) != 1 || listed.Topic != "enricher.dlq" {
		t.Fatalf("dlq list --json: got %s, want the one bad event", out)
	}
	it := listed.Items[0]
	if it.Foreign || it.Stage != "enricher.decode" || it.Source.Topic != eventsTopic || it.Source.Partition != 1 || it.Reason == "" {
		t.Fatalf("dlq list: got %+v, want the event's failure at enricher.decode from %s/1", it, eventsTopic)
	}
	pos := []string{"--partition", strconv.Itoa(it.Partition), "--offset", strconv.FormatInt(it.Offset, 10)}
	out, err = runDLQ(t, "list", brokers)
	if err != nil || !strings.Contains(out, "0/0") || !strings.Contains(out, "enricher.decode") {
		t.Fatalf("dlq list: %v\n%s\nwant a line for 0/0 at enricher.decode", err, out)
	}
	t.Logf("dlq list:\n%s", out)

	value, err := runDLQ(t, append([]string{"show", brokers, "--value-only"}, pos...)...)
	if err != nil || value != string(bad) {
		t.Fatalf("dlq show --value-only: %v: got %q, want the original value %q", err, value, bad)
	}
	out, err = runDLQ(t, append([]string{"show", brokers}, pos...)...)
	if err != nil || !strings.Contains(out, "trace: t-1") || !strings.Contains(out, "dlq.stage: enricher.decode") {
		t.Fatalf("dlq show: %v\n%s\nwant the dlq headers and the original trace header", err, out)
	}
	t.Logf("dlq show:\n%s", out)

	fixed := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(fixed, []byte(strings.Replace(value, "yesterday at nine", "2025-03-10T09:01:00Z", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	checkpoint := filepath.Join(t.TempDir(), "replay.json")
	replay := append([]string{"replay", brokers, "--checkpoint", checkpoint, "--value-file", fixed}, pos...)

	before := endOffsets(t, kc, eventsTopic, 3)
	out, err = runDLQ(t, append(replay, "--dry-run")...)
	if err != nil || !strings.Contains(out, "would send 0/0 -> "+eventsTopic) || endOffsets(t, kc, eventsTopic, 3) != before {
		t.Fatalf("dry run: %v\n%s\nwant it to say what it would send, and send nothing", err, out)
	}
	out, err = runDLQ(t, replay...)
	if err != nil || !strings.Contains(out, "sent       0/0 -> "+eventsTopic) || !strings.Contains(out, "dlq replay: sent 1 of 1") {
		t.Fatalf("replay: %v\n%s\nwant it sent", err, out)
	}
	t.Logf("dlq replay:\n%s", out)
	if n := endOffsets(t, kc, eventsTopic, 3); n != before+1 {
		t.Fatalf("events topic grew by %d records, want 1", n-before)
	}
	// The record sent back: the fixed value, the original headers (not the
	// DLQ's, nor the enricher's position marker), and the replay's own.
	var resent *kgo.Record
	for _, r := range kc.ReadAll(eventsTopic, int(before)+1, 30*time.Second) {
		if string(r.Key) == "500" && !bytes.Equal(r.Value, bad) {
			resent = r
		}
	}
	if resent == nil {
		t.Fatal("the replayed event is not on the events topic")
	}
	var hs []string
	for _, h := range resent.Headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	if got, want := strings.Join(hs, " "), "trace=t-1 dlq.replay.count=1 dlq.replay.from=enricher.dlq/0/0"; got != want || !strings.Contains(string(resent.Value), `"event_ts":"2025-03-10T09:01:00Z"`) {
		t.Fatalf("replayed record: headers %q value %s; want headers %q and the fixed event_ts", got, resent.Value, want)
	}
	if dlq.HeaderEnricherSource != enricher.HeaderSource {
		t.Fatalf("dlq strips %q, the enricher marks %q", dlq.HeaderEnricherSource, enricher.HeaderSource)
	}
	outs := kc.ReadAll(outputTopic, 1, 60*time.Second)
	if len(outs) != 1 {
		t.Fatalf("got %d outputs, want the fixed event", len(outs))
	}
	if e := newOutputDecoder(t, nil).decode(outs[0]); e.String() != "key=500 type=podcast len=1200 secs=6 pct=0.01" {
		t.Fatalf("got %s, want the fixed event enriched", e)
	}

	// Again: the checkpoint says it was sent; nothing goes out.
	out, err = runDLQ(t, replay...)
	if err != nil || !strings.Contains(out, "skip       0/0: already replayed") || !strings.Contains(out, "sent 0 of 1") {
		t.Fatalf("second replay: %v\n%s\nwant it skipped as already replayed", err, out)
	}
	t.Logf("dlq replay, again:\n%s", out)
	if n := endOffsets(t, kc, eventsTopic, 3); n != before+1 {
		t.Fatalf("after the second replay the events topic grew by %d records, want still 1", n-before)
	}
	// A later event is enriched after anything the second replay could
	// have caused: the output then holds it and the fixed event once each.
	kc.Produce(&kgo.Record{Topic: eventsTopic, Partition: 1, Key: []byte("501"), Value: plainEvent(501, &id, t0, i32(1000))})
	outs = kc.ReadAll(outputTopic, 2, 60*time.Second)
	keys := map[string]int{}
	for _, r := range outs {
		keys[string(r.Key)]++
	}
	if len(outs) != 2 || keys["500"] != 1 || keys["501"] != 1 {
		t.Fatalf("outputs by key: %v, want 500 and 501 once each", keys)
	}
	if dead := kc.ReadAll("enricher.dlq", 2, 2*time.Second); len(dead) != 1 {
		t.Fatalf("dlq holds %d records, want only the original failure", len(dead))
	}

	// The unfixed value sent back (another checkpoint) fails again and
	// returns to the DLQ recognisable as a replay; --max-replays 1 stops the loop.
	again := filepath.Join(t.TempDir(), "again.json")
	if out, err := runDLQ(t, append([]string{"replay", brokers, "--checkpoint", again}, pos...)...); err != nil || !strings.Contains(out, "sent 1 of 1") {
		t.Fatalf("replay of the unfixed value: %v\n%s", err, out)
	}
	if dead := kc.ReadAll("enricher.dlq", 2, 30*time.Second); len(dead) != 2 {
		t.Fatalf("dlq holds %d records, want the second failure too", len(dead))
	}
	out, err = runDLQ(t, "replay", brokers, "--checkpoint", again, "--partition", "0", "--offset", "1")
	if err != nil || !strings.Contains(out, "skip       0/1: replayed 1 time(s) already (--max-replays 1)") {
		t.Fatalf("replay of a record that failed after a replay: %v\n%s\nwant it skipped", err, out)
	}
	t.Logf("dlq replay of a record that failed after its replay:\n%s", out)
}

// TestDLQCommandErrors: bad flags are one line naming the flag.
func TestDLQCommandErrors(t *testing.T) {
	noKafka := "--brokers=127.0.0.1:1"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"show without a position", []string{"show", noKafka}, "--partition and --offset are required"},
		{"replay with no selection", []string{"replay", noKafka, "--checkpoint", "x.json"}, "no record selected"},
		{"replay position half given", []string{"replay", noKafka, "--partition", "0"}, "--partition and --offset go together"},
		{"value file for many", []string{"replay", noKafka, "--stage", "s", "--value-file", "f"}, "--value-file: replaces the value of one record"},
		{"value file missing", []string{"replay", noKafka, "--partition", "0", "--offset", "1", "--value-file", "/nonexistent/f"}, "--value-file: open /nonexistent/f"},
		{"max replays zero", []string{"replay", noKafka, "--stage", "s", "--max-replays", "0"}, "--max-replays: must be at least 1"},
		{"bad since", []string{"list", noKafka, "--since", "last week"}, `--since: "last week" is neither`},
		{"bad brokers", []string{"list", "--brokers", "a b:1"}, `--brokers ($KAFKA_BROKERS): "a b:1" is not host:port`},
		{"kafka unreachable", []string{"list", noKafka}, "kafka unreachable at 127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runDLQ(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line containing %q", err, tc.want)
			}
		})
	}
}
