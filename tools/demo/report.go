package demo

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/thmanyah/enricher/internal/promq"
)

// counts are the service's counters as the status line and the summary
// read them. Every engagement outcome of enricher_events_total lands in
// exactly one of joined, miss, noContentID, engDLQ, skipped, already.
type counts struct {
	in, out     float64 // engagement records read (every outcome); records written to the output
	joined      float64 // enriched, joined_after_hold
	miss        float64 // miss, miss_after_hold
	noContentID float64 // no_content_id
	engDLQ      float64 // dlq (engagement records)
	skipped     float64 // skipped: deletes, tombstones, truncates, heartbeats
	already     float64 // already_written: re-reads whose output was written before
	other       float64 // a result this demo does not know
	contentDLQ  float64 // enricher_cdc_records_total{result="dlq"}
	held, rows  float64
	p50, p99    float64
}

// dlq is every record the service dead-lettered.
func (c counts) dlq() float64 { return c.engDLQ + c.contentDLQ }

func readCounts(g prometheus.Gatherer) counts {
	c := counts{p50: math.NaN(), p99: math.NaN()}
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			label := map[string]string{}
			for _, l := range m.GetLabel() {
				label[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "enricher_events_total":
				v := m.GetCounter().GetValue()
				c.in += v
				switch label["result"] {
				case "enriched", "joined_after_hold":
					c.joined += v
					c.out += v
				case "miss", "miss_after_hold":
					c.miss += v
					c.out += v
				case "no_content_id":
					c.noContentID += v
					c.out += v
				case "dlq":
					c.engDLQ += v
				case "skipped":
					c.skipped += v
				case "already_written":
					c.already += v
				default:
					c.other += v
				}
			case "enricher_cdc_records_total":
				if label["result"] == "dlq" {
					c.contentDLQ += m.GetCounter().GetValue()
				}
			case "enricher_held_events":
				c.held = m.GetGauge().GetValue()
			case "enricher_view_rows":
				c.rows = m.GetGauge().GetValue()
			case "enricher_event_latency_seconds":
				c.p50 = promq.Quantile(m.GetHistogram(), 0.50)
				c.p99 = promq.Quantile(m.GetHistogram(), 0.99)
			}
		}
	}
	return c
}

// legend says once what the status line's fields mean.
const legend = `status line: in = engagement records the service read per second (every outcome);
  out = enriched records it wrote to processed_engagements per second (joins and misses);
  join hits = joins / (joins + misses) in the interval; latency = from an event's Kafka timestamp
  to its enriched record's acknowledgement; held = events waiting for late content; dlq = records
  the service dead-lettered; top = members of engagement:top:10m in Redis; delivered = events the
  receiver accepted from the HTTP sink; generated = events written by datagen and the injector`

// sinkCounts is what the status line reads downstream of the service; a
// negative value is one not available (no Redis).
type sinkCounts struct{ top, delivered int64 }

func statusLine(prev, cur counts, dt time.Duration, s sinkCounts, generated int64) string {
	sec := dt.Seconds()
	hit := 100.0
	if j := (cur.joined - prev.joined) + (cur.miss - prev.miss); j > 0 {
		hit = 100 * (cur.joined - prev.joined) / j
	}
	top := "-"
	if s.top >= 0 {
		top = fmt.Sprint(s.top)
	}
	return fmt.Sprintf("%s  in %6.0f/s  out %6.0f/s  join hits %5.1f%%  latency p50 %s p99 %s  view %d rows  held %d  dlq %d  top %s  delivered %d  generated %d",
		time.Now().Format("15:04:05"), (cur.in-prev.in)/sec, (cur.out-prev.out)/sec, hit,
		ms(cur.p50), ms(cur.p99), int64(cur.rows), int64(cur.held), int64(cur.dlq()), top, s.delivered, generated)
}

func ms(s float64) string {
	if math.IsNaN(s) {
		return "  -  "
	}
	return fmt.Sprintf("%.1fms", s*1000)
}

// summary is the account of a run, taken once datagen stopped and the
// pipeline drained (or the drain gave up).
type summary struct {
	elapsed   time.Duration
	datagen   int64  // events datagen wrote
	target    string // where datagen wrote them
	injected  int64  // malformed records injected
	c         counts // the service's counters at the end
	drained   bool   // every generated event was accounted for before the stop
	top       int64  // members of engagement:top:10m; -1 without Redis
	delivered int64  // events the receiver accepted (each idempotency key once)
	batches   int64
	dlqTopic  int64 // records in the DLQ topic (its end offsets); -1 when unknown
}

func (s summary) generated() int64 { return s.datagen + s.injected }

// unread is what the service had not accounted for at the end: events
// still on their way (in Postgres's WAL, capture, Kafka) when positive,
// events counted twice (re-read after a rebalance, at-least-once) when
// negative.
func (s summary) unread() int64 {
	c := s.c
	return s.generated() - int64(c.joined+c.miss+c.noContentID+c.held+c.engDLQ)
}

// write prints the summary: every generated event in exactly one row, each
// row naming the counter it comes from, and the rows' sum.
func (s summary) write(w io.Writer) {
	c := s.c
	var b strings.Builder
	fmt.Fprintf(&b, "stopped after %s: %d events generated (%d by datagen into %s + %d malformed injected)",
		s.elapsed.Round(100*time.Millisecond), s.generated(), s.datagen, s.target, s.injected)
	if !s.drained {
		b.WriteString("; the pipeline had not drained when it stopped")
	}
	b.WriteString("\n")
	row := func(name string, n int64, from string) { fmt.Fprintf(&b, "  %-12s %8d  %s\n", name, n, from) }
	row("joined", int64(c.joined), `enricher_events_total{result="enriched"|"joined_after_hold"}`)
	row("miss", int64(c.miss+c.noContentID), fmt.Sprintf(`enricher_events_total{result="miss"|"miss_after_hold"|"no_content_id"} (%d without a content id)`, int64(c.noContentID)))
	row("held", int64(c.held), "enricher_held_events: still held for late content at the stop (dropped uncommitted; read again on restart)")
	row("dlq", int64(c.engDLQ), fmt.Sprintf(`enricher_events_total{result="dlq"} (%d injected)`, s.injected))
	switch u := s.unread(); {
	case u >= 0:
		row("not read", u, "the rest: generated minus the rows above, still in Postgres, capture or Kafka at the stop")
	default:
		row("counted 2x", u, "the rest is negative: events read again after a rebalance and counted twice (at-least-once)")
	}
	fmt.Fprintf(&b, "  %-12s %8d  = generated\n", "total", s.generated())
	fmt.Fprintf(&b, "  not events, so not in the total: %d skipped records (enricher_events_total{result=\"skipped\"}: deletes and tombstones of engagement rows, e.g. a deleted content's events), %d re-reads already written (result=\"already_written\", counted once above)",
		int64(c.skipped), int64(c.already))
	if c.other > 0 {
		fmt.Fprintf(&b, ", %d of an outcome this demo does not know", int64(c.other))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  dlq topic: %s records (its end offsets), of which the service's: %d engagement + %d content (enricher_cdc_records_total{result=\"dlq\"}); the rest are the sinks'\n",
		orUnknown(s.dlqTopic), int64(c.engDLQ), int64(c.contentDLQ))
	top := "no Redis"
	if s.top >= 0 {
		top = fmt.Sprintf("%d members (ZCARD)", s.top)
	}
	fmt.Fprintf(&b, "  downstream: engagement:top:10m %s; receiver accepted %d events in %d batches (its /stats); view %d rows (enricher_view_rows)\n",
		top, s.delivered, s.batches, int64(c.rows))
	_, _ = io.WriteString(w, b.String())
}

func orUnknown(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}
