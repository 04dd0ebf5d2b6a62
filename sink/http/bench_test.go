package httpsink

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/tools/receiver"
)

// BenchmarkThroughput measures events per second from Kafka (kfake, 6
// partitions, records already there) through the sink to a local receiver
// that parses and counts every batch; the group join is included. Run with
// a fixed count, e.g. -benchtime 200000x: one op is one event.
func BenchmarkThroughput(b *testing.B) {
	for _, tc := range []struct{ batch, concurrency int }{{500, 4}, {100, 4}, {500, 1}} {
		b.Run(fmt.Sprintf("batch=%d/concurrency=%d", tc.batch, tc.concurrency), func(b *testing.B) {
			e := newEnv(b, 6)
			e.produceRange(0, int64(b.N))
			rcv := receiver.New(receiver.Config{})
			srv := httptest.NewServer(rcv)
			b.Cleanup(srv.Close)
			b.ResetTimer()
			start := time.Now()
			s := e.start(srv.URL+"/events", func(c *SinkConfig) {
				c.BatchSize, c.Concurrency, c.Linger = tc.batch, tc.concurrency, 50*time.Millisecond
				c.ReaderConfig = nil // production fetch timings
			})
			testkafka.Eventually(b, 5*time.Minute, "every event received", func() bool { return rcv.Stats().Events >= int64(b.N) })
			elapsed := time.Since(start)
			b.StopTimer()
			if err := s.stop(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(s.metric("enricher_sink_http_requests_total", "class", "2xx"), "posts")
		})
	}
}
