// Package testkafka starts an in-process Kafka (kfake) for tests and offers a
// producer and a reader that are not the service's own client (franz-go), so
// tests check the service against a second implementation of the protocol.
package testkafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is a running kfake cluster with a franz-go client attached.
type Cluster struct {
	*kfake.Cluster
	Client *kgo.Client
	t      testing.TB
}

// New starts a one-broker cluster that is stopped when the test ends.
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0))
	if err != nil {
		c.Close()
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(func() { cl.Close(); c.Close() })
	return &Cluster{Cluster: c, Client: cl, t: t}
}

// Addrs returns the brokers' addresses.
func (c *Cluster) Addrs() []string { return c.ListenAddrs() }

// Topic creates a topic.
func (c *Cluster) Topic(name string, partitions int32, configs map[string]string) {
	c.t.Helper()
	if err := c.CreateTopic(name, partitions, configs); err != nil {
		c.t.Fatalf("create topic %s: %v", name, err)
	}
}

// Produce writes records synchronously; each record's Partition is used as is.
func (c *Cluster) Produce(recs ...*kgo.Record) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		c.t.Fatalf("produce: %v", err)
	}
}

// ReadAll reads a topic from the start until want records arrived or the
// deadline passed, and returns what it read.
func (c *Cluster) ReadAll(topic string, want int, deadline time.Duration) []*kgo.Record {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		c.t.Fatalf("kgo reader: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// Eventually polls cond until it holds or the deadline passes; it is the only
// way tests wait, so a slow machine makes tests slower, never flaky.
func Eventually(t testing.TB, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", deadline, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
