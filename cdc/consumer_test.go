package cdc

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/store"
)

const topic = "thmanyah.public.content"

func newConsumer(t testing.TB, kc *testkafka.Cluster, st *store.Store) *Consumer {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(kc.Addrs()...), BatchTimeout: time.Millisecond}
	t.Cleanup(func() { _ = w.Close() })
	c, err := New(Config{Brokers: kc.Addrs(), Topic: topic, DLQTopic: "enricher.dlq", Store: st,
		Decoder: debezium.NewDecoder(nil), DLQ: w, Refresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestOffsetsAheadOfTopic: offsets stored beyond the topic's end mean the
// topic was recreated; serving the old view would be wrong, so Run stops
// with an error that says how to rebuild.
func TestOffsetsAheadOfTopic(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(topic, 1, nil)
	st := openStore(t, t.TempDir())
	var b store.Batch
	b.Advance(store.TopicPartition{Topic: topic, Partition: 0}, 100)
	if _, err := st.Apply(&b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := newConsumer(t, kc, st).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "delete --data-dir") {
		t.Fatalf("got %v, want an error telling to delete --data-dir", err)
	}
}

// TestWaitCaughtUp: ready at once on an empty topic; WaitCaughtUp returns
// only once records produced after start are applied.
func TestWaitCaughtUp(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic(topic, 2, nil)
	st := openStore(t, t.TempDir())
	c := newConsumer(t, kc, st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-c.ReadyC():
	case <-time.After(30 * time.Second):
		t.Fatal("not ready on an empty topic")
	}
	readyAsOf := c.CaughtUpAt()
	if readyAsOf.IsZero() {
		t.Fatal("ready, but CaughtUpAt is zero")
	}
	w, err := dbztest.New()
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	var ids []uuid.UUID
	for i := 0; i < 50; i++ {
		id := uuid.New()
		ids = append(ids, id)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: w.Key(dbztest.FormPlain, id),
			Value: w.Change(dbztest.FormPlain, 'c', &dbztest.Content{ID: id, PublishTS: time.Unix(0, 0)}, dbztest.Source{LSN: int64(8 * (i + 1)), TsMs: int64(1000 + i)})})
	}
	kc.Produce(recs...)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	beforeWait := time.Now()
	if err := c.WaitCaughtUp(wctx); err != nil {
		t.Fatalf("WaitCaughtUp: %v", err)
	}
	// The end offsets were read during the call: everything produced before
	// it is in the view, so CaughtUpAt moved to at least the call's start.
	if got := c.CaughtUpAt(); got.Before(beforeWait) || !got.After(readyAsOf) {
		t.Fatalf("CaughtUpAt %v after WaitCaughtUp started at %v (ready as of %v)", got, beforeWait, readyAsOf)
	}
	for _, id := range ids {
		if _, ok := st.Current(id); !ok {
			t.Fatalf("WaitCaughtUp returned before %s was applied", id)
		}
	}
	if got := c.AppliedTsMs(); got != 1049 {
		t.Fatalf("AppliedTsMs: got %d, want 1049", got)
	}
	for _, ps := range c.Status() {
		if ps.Lag != 0 || ps.Offset != 25 {
			t.Fatalf("status %+v: want offset 25, lag 0", ps)
		}
	}
}

// TestKafkaUnreachable: while no broker answers, Unreachable says so plainly
// (the broker and the network error, no client jargon), once per
// unreachableLogEvery in the log however often the consumer retries; once
// a broker answers on that address, it is nil again and the view gets ready.
func TestKafkaUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()

	core, logs := observer.New(zap.InfoLevel)
	st := openStore(t, t.TempDir())
	w := &kafka.Writer{Addr: kafka.TCP(addr), BatchTimeout: time.Millisecond}
	t.Cleanup(func() { _ = w.Close() })
	c, err := New(Config{Brokers: []string{addr}, Topic: topic, DLQTopic: "enricher.dlq", Store: st,
		Decoder: debezium.NewDecoder(nil), DLQ: w, Logger: zap.New(core), Refresh: 100 * time.Millisecond,
		Backoff: retry.Backoff{Min: time.Millisecond, Max: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	testkafka.Eventually(t, 30*time.Second, "retries while kafka is unreachable", func() bool {
		var m dto.Metric
		if err := c.m.retries.WithLabelValues("metadata").Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue() >= 10
	})
	err = c.Unreachable()
	want := "kafka unreachable at " + addr + ": dial tcp " + addr + ": connect: connection refused"
	if err == nil || err.Error() != want {
		t.Fatalf("Unreachable: got %v, want %q", err, want)
	}
	if c.Ready() {
		t.Fatal("ready without a broker")
	}
	if n := logs.FilterMessageSnippet("kafka unreachable").Len(); n != 1 {
		t.Errorf("got %d log lines saying kafka is unreachable after 10 retries, want 1 (rate-limited)", n)
	}
	if n := logs.FilterMessageSnippet("read content topic metadata").Len(); n != 0 {
		t.Errorf("got %d per-retry log lines, want none while kafka is unreachable", n)
	}

	kc := testkafka.New(t, kfake.Ports(port))
	kc.Topic(topic, 1, nil)
	select {
	case <-c.ReadyC():
	case <-time.After(30 * time.Second):
		t.Fatalf("not ready 30s after a broker started on %s", addr)
	}
	if err := c.Unreachable(); err != nil {
		t.Errorf("Unreachable once a broker answered: got %v, want nil", err)
	}
	if n := logs.FilterMessage("kafka reachable again").Len(); n != 1 {
		t.Errorf("got %d lines saying kafka is reachable again, want 1", n)
	}
}
