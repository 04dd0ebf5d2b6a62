package dlq

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/thmanyah/enricher/internal/testkafka"
)

func replayConfig(kc *testkafka.Cluster, dir string) ReplayConfig {
	return ReplayConfig{Brokers: kc.Addrs(), Topic: dlqTopic, MaxReplays: 1, Checkpoint: filepath.Join(dir, DefaultCheckpoint(dlqTopic))}
}

func replay(t *testing.T, cfg ReplayConfig) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Replay(ctx, cfg)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	return res
}

// count returns the records of topic (one partition), knowing how many
// to wait for from its end offset: Replay returns after the broker
// acknowledged, so the end offset is exact.
func count(t *testing.T, kc *testkafka.Cluster, topic string) []*kgo.Record {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(kc.Addrs()...)}
	res, err := cl.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(0)}}})
	if err != nil || res.Topics[topic][0].Error != nil {
		t.Fatalf("end offset of %s: %v", topic, err)
	}
	n := int(res.Topics[topic][0].LastOffset)
	if n == 0 {
		return nil
	}
	return kc.ReadAll(topic, n, 10*time.Second)
}

func TestReplayDryRunSendsNothing(t *testing.T) {
	kc, _ := seeded(t)
	cfg := replayConfig(kc, t.TempDir())
	cfg.Filter, cfg.DryRun = Filter{SourceTopic: "events"}, true
	res := replay(t, cfg)
	if len(res.Records) != 5 || res.Sent != 0 || res.Skipped != 0 {
		t.Fatalf("got %d planned, %d sent, %d skipped; want 5 planned, none sent or skipped", len(res.Records), res.Sent, res.Skipped)
	}
	if n := len(count(t, kc, "events")); n != 0 {
		t.Fatalf("dry run: %d records on the source topic, want 0", n)
	}
	if _, err := os.Stat(cfg.Checkpoint); !os.IsNotExist(err) {
		t.Fatalf("dry run wrote a checkpoint (stat: %v)", err)
	}
}

func TestReplaySendsOnceWithHeaders(t *testing.T) {
	kc, _ := seeded(t)
	cfg := replayConfig(kc, t.TempDir())
	cfg.Filter, cfg.Batch = Filter{SourceTopic: "events"}, 2 // three batches, three checkpoint saves
	res := replay(t, cfg)
	if res.Sent != 5 {
		t.Fatalf("sent %d, want 5", res.Sent)
	}
	got := count(t, kc, "events")
	if len(got) != 5 {
		t.Fatalf("source topic holds %d records, want 5", len(got))
	}
	for i, r := range got { // oldest first: the order they failed in
		wantKey := "k10" + string(rune('0'+i))
		h := map[string]string{}
		var keys []string
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
			keys = append(keys, x.Key)
		}
		wantFrom := "enricher.dlq/0/" + string(rune('0'+i))
		if string(r.Key) != wantKey || h["orig"] != "o" || h[HeaderReplayCount] != "1" || h[HeaderReplayFrom] != wantFrom {
			t.Fatalf("record %d: key %q headers %v; want key %s, orig=o, replay count 1, from %s", i, r.Key, h, wantKey, wantFrom)
		}
		if strings.Join(keys, ",") != "orig,dlq.replay.count,dlq.replay.from" {
			t.Fatalf("record %d: headers %v, want the original ones then the replay's, no other dlq.*", i, keys)
		}
	}

	// Again: the checkpoint holds every one of them.
	res = replay(t, cfg)
	if res.Sent != 0 || res.Skipped != 5 || !strings.HasPrefix(res.Records[0].Skip, "already replayed") {
		t.Fatalf("second run: sent %d skipped %d (%q), want 0 sent, 5 skipped as already replayed", res.Sent, res.Skipped, res.Records[0].Skip)
	}
	if n := len(count(t, kc, "events")); n != 5 {
		t.Fatalf("after the second run the source topic holds %d records, want still 5", n)
	}
}

func TestReplayRefusals(t *testing.T) {
	kc, _ := seeded(t)
	// The record at 0/5 failed again after a replay: its original headers
	// carry dlq.replay.count 1, as Replay wrote them.
	kc.Produce(dead(0, "events", 105, "enricher.decode", "again", t0.Add(time.Hour),
		kafka.Header{Key: HeaderReplayCount, Value: []byte("1")}, kafka.Header{Key: HeaderReplayFrom, Value: []byte("enricher.dlq/0/4")}))
	for _, tc := range []struct {
		name      string
		partition int
		offset    int64
		to        string
		force     bool
		skip      string // prefix; "" when sent
		target    string
	}{
		{name: "replayed once already", partition: 0, offset: 5, skip: "replayed 1 time(s) already"},
		{name: "foreign", partition: 1, offset: 3, to: "events", skip: "foreign record"},
		{name: "foreign forced without a topic", partition: 1, offset: 3, force: true, skip: "no source topic"},
		{name: "foreign forced to a topic", partition: 1, offset: 3, to: "events", force: true, target: "events"},
		{name: "replayed once, forced", partition: 0, offset: 5, force: true, target: "events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(count(t, kc, "events"))
			cfg := replayConfig(kc, t.TempDir())
			cfg.One, cfg.Partition, cfg.Offset, cfg.To, cfg.Force = true, tc.partition, tc.offset, tc.to, tc.force
			res := replay(t, cfg)
			p := res.Records[0]
			after := count(t, kc, "events")
			if tc.skip != "" {
				if !strings.HasPrefix(p.Skip, tc.skip) || p.Sent || len(after) != before {
					t.Fatalf("got skip %q sent %v (%d records now, %d before), want skipped: %s", p.Skip, p.Sent, len(after), before, tc.skip)
				}
				return
			}
			if p.Skip != "" || !p.Sent || len(after) != before+1 {
				t.Fatalf("got skip %q sent %v (%d records now, %d before), want it sent", p.Skip, p.Sent, len(after), before)
			}
			last := after[len(after)-1]
			for _, h := range last.Headers {
				if h.Key == HeaderReplayCount && string(h.Value) != "2" && tc.offset == 5 {
					t.Fatalf("replay count: got %s, want 2 (previous 1 + 1)", h.Value)
				}
			}
		})
	}
}

func TestReplayValueFile(t *testing.T) {
	kc, _ := seeded(t)
	cfg := replayConfig(kc, t.TempDir())
	cfg.One, cfg.Partition, cfg.Offset, cfg.ReplaceValue, cfg.Value = true, 0, 1, true, []byte(`{"fixed":true}`)
	replay(t, cfg)
	got := count(t, kc, "events")
	if len(got) != 1 || string(got[0].Value) != `{"fixed":true}` || string(got[0].Key) != "k101" {
		t.Fatalf("got %d records (first %q=%q), want the fixed value under key k101", len(got), got[0].Key, got[0].Value)
	}
}

func TestReplayConfigRefused(t *testing.T) {
	base := ReplayConfig{Brokers: []string{"127.0.0.1:1"}, Topic: dlqTopic, MaxReplays: 1, Checkpoint: "c.json", Filter: Filter{Stage: "s"}}
	for _, tc := range []struct {
		name string
		edit func(*ReplayConfig)
		want string
	}{
		{"no selection", func(c *ReplayConfig) { c.Filter = Filter{} }, "no record selected"},
		{"value for many", func(c *ReplayConfig) { c.ReplaceValue = true }, "Value: replaces the value of one record"},
		{"to the dlq", func(c *ReplayConfig) { c.To = dlqTopic }, "To: is the DLQ topic itself"},
		{"max replays zero", func(c *ReplayConfig) { c.MaxReplays = 0 }, "MaxReplays: must be at least 1"},
		{"empty range", func(c *ReplayConfig) { c.Filter.Since, c.Filter.Until = t0, t0 }, "Filter: since must be before until"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			_, err := Replay(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckpointOfAnotherTopicRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	c, err := LoadCheckpoint(path, "a")
	if err != nil {
		t.Fatal(err)
	}
	c.mark(0, 7)
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadCheckpoint(path, "a"); err != nil || !c.Has(0, 7) || c.Has(0, 8) {
		t.Fatalf("reload: %v, want 0/7 and not 0/8", err)
	}
	if _, err := LoadCheckpoint(path, "b"); err == nil || !strings.Contains(err.Error(), `dlq topic "a"`) {
		t.Fatalf("got %v, want a refusal naming topic a", err)
	}
}
