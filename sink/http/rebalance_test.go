package httpsink

import (
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/tools/receiver"
)

// TestRebalanceKeepsKeys moves partitions between two instances while the
// endpoint drops connections and answers slowly: each event is still counted
// once, and resent only under its first key.
func TestRebalanceKeepsKeys(t *testing.T) {
	const n = 2000
	e := newEnv(t, 4)
	rcv, rec, url := newReceiver(t, receiver.Faults{DropRate: 0.15, FailRate: 0.1, Slow: time.Second, SlowRate: 0.1})
	cfg := func(c *SinkConfig) {
		c.BatchSize = 20
		c.Timeout = 200 * time.Millisecond
		c.MaxRetries = 1000 // nothing to the DLQ: every event must reach the receiver
	}
	e.produceRange(0, n/4)
	a := e.start(url, cfg)
	testkafka.Eventually(t, 30*time.Second, "the first instance delivering", func() bool { return rcv.Stats().Events > 0 })
	e.produceRange(n/4, n/2)
	b := e.start(url, cfg) // joins: the partitions are split between a and b
	testkafka.Eventually(t, 30*time.Second, "both instances delivering", func() bool {
		da, _ := a.Stats()
		db, _ := b.Stats()
		return db > 0 && da > 0
	})
	e.produceRange(n/2, 3*n/4)
	if err := a.stop(); err != nil { // leaves: b takes every partition
		t.Fatal(err)
	}
	e.produceRange(3*n/4, n)
	testkafka.Eventually(t, 60*time.Second, "every event received", func() bool { return rcv.Stats().DistinctEvents == n })
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	st := rcv.Stats()
	checkKeys(t, rec.requests())
	if st.Events != n || st.KeyConflicts != 0 {
		t.Errorf("receiver: %+v; want %d events counted once each", st, n)
	}
	t.Logf("receiver: requests %d, batches %d, duplicate keys %d, faults %v", st.Requests, st.Batches, st.DuplicateKeys, st.Faults)
}
