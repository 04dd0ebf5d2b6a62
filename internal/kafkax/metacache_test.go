package kafkax

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"

	"github.com/thmanyah/enricher/internal/testkafka"
)

// countingTransport counts the metadata requests that reach the broker.
type countingTransport struct {
	next     kafka.RoundTripper
	metadata atomic.Int64
}

func (c *countingTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if _, ok := req.(*metadata.Request); ok {
		c.metadata.Add(1)
	}
	return c.next.RoundTrip(ctx, addr, req)
}

// TestWriterMetadataCached writes records with the shared writer and checks
// that its per-record partition lookups are answered from the cache, that
// the records still land where the balancer put them, and that an answer
// naming a missing topic is never cached.
func TestWriterMetadataCached(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic("cached", 3, nil)
	counter := &countingTransport{next: kafka.DefaultTransport}
	w := NewWriter(kc.Addrs())
	w.Transport = &metadataCache{next: counter, ttl: time.Minute}
	defer w.Close()
	ctx := context.Background()
	const batches, per = 10, 100
	for b := range batches {
		msgs := make([]kafka.Message, per)
		for i := range msgs {
			msgs[i] = kafka.Message{Topic: "cached", Key: []byte(strconv.Itoa(b*per + i)), Value: []byte("v")}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	if got := kc.ReadAll("cached", batches*per, 10*time.Second); len(got) != batches*per {
		t.Fatalf("read %d records, want %d", len(got), batches*per)
	}
	if n := counter.metadata.Load(); n != 1 {
		t.Errorf("%d metadata requests reached the broker for %d records, want 1", n, batches*per)
	}

	cache := &metadataCache{next: counter, ttl: time.Minute}
	addr := kafka.TCP(kc.Addrs()...)
	before := counter.metadata.Load()
	for range 2 {
		res, err := cache.RoundTrip(ctx, addr, &metadata.Request{TopicNames: []string{"missing"}})
		if err != nil {
			t.Fatal(err)
		}
		if tp := res.(*metadata.Response).Topics; len(tp) != 1 || tp[0].ErrorCode == 0 {
			t.Fatalf("missing topic answered %+v, want an error code", tp)
		}
	}
	if n := counter.metadata.Load() - before; n != 2 {
		t.Errorf("a missing topic's answer was cached: %d requests reached the broker, want 2", n)
	}
}

// TestMetadataCacheExpires checks an answer is asked for again after ttl.
func TestMetadataCacheExpires(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic("expiring", 1, nil)
	counter := &countingTransport{next: kafka.DefaultTransport}
	cache := &metadataCache{next: counter, ttl: 50 * time.Millisecond}
	addr := kafka.TCP(kc.Addrs()...)
	ask := func() {
		t.Helper()
		if _, err := cache.RoundTrip(context.Background(), addr, &metadata.Request{TopicNames: []string{"expiring"}}); err != nil {
			t.Fatal(err)
		}
	}
	ask()
	ask()
	if n := counter.metadata.Load(); n != 1 {
		t.Fatalf("%d requests before the ttl, want 1", n)
	}
	testkafka.Eventually(t, 5*time.Second, "the cached answer to expire", func() bool {
		ask()
		return counter.metadata.Load() == 2
	})
}
