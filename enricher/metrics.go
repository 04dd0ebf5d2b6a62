package enricher

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type metrics struct {
	events       *prometheus.CounterVec
	retries      *prometheus.CounterVec
	joinWaits    *prometheus.CounterVec
	joinWaitTime prometheus.Histogram
	joinWaiting  prometheus.Gauge
	batchSize    prometheus.Histogram
	batchTime    prometheus.Histogram
	produceTime  prometheus.Histogram
	batchAge     prometheus.Histogram
	commitTime   prometheus.Histogram
	latency      prometheus.Histogram
	lag          *prometheus.GaugeVec

	held         prometheus.Gauge
	heldBytes    prometheus.Gauge
	holdTime     prometheus.Histogram
	holdOverflow prometheus.Counter
	generations  prometheus.Counter
	scanTime     prometheus.Histogram
	scanRecords  prometheus.Counter
	fallbacks    *prometheus.CounterVec
	// retriesResolved counts records of failed writes found written.
	retriesResolved prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_events_total",
			Help: "Engagement records by input topic and outcome: enriched (join hit), joined_after_hold (content arrived while the event was held), miss_after_hold (content still unknown at --join-wait), miss (content unknown, not held: --join-wait 0 or the hold full), no_content_id, skipped (delete, tombstone, truncate, heartbeat), dlq, already_written (its output was written before a crash or rebalance; not written again).",
		}, []string{"topic", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_retries_total",
			Help: "Retries of transient failures in the enricher, by reason: produce, commit, schema_registry.",
		}, []string{"reason"}),
		joinWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_join_waits_total",
			Help: "Waits for the content view to reach the content topic's end (a batch's, at most 100ms, before its events newer than the view go to the hold; the hold's, while it holds such events), by outcome: caught_up, timeout, error.",
		}, []string{"outcome"}),
		joinWaitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_join_wait_seconds",
			Help:    "Time one wait for the content view took.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}),
		joinWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_join_waiting",
			Help: "Waits for the content view to catch up in progress.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_batch_records",
			Help:    "Engagement records per batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_batch_seconds",
			Help:    "Time to decode, join (waits included) and encode one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 3, 10),
		}),
		produceTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_produce_seconds",
			Help:    "Time from the first produce attempt of a batch to its acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 3, 10),
		}),
		batchAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_batch_age_seconds",
			Help:    "Age of a batch's first record (from its Kafka timestamp) when a worker starts on the batch: fetch, linger and queueing.",
			Buckets: prometheus.ExponentialBucketsRange(0.001, 30, 40),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_commit_seconds",
			Help:    "Time to commit the offsets of one or more acknowledged batches.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 3, 10),
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "enricher_event_latency_seconds",
			Help: "From an engagement record's Kafka timestamp to its enriched record's acknowledgement.",
			// 1 ms to 30 s in steps of ~30%, fine enough to tell a p99 of 45 ms from 60 ms.
			Buckets: prometheus.ExponentialBucketsRange(0.001, 30, 40),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "enricher_consumer_lag",
			Help: "Engagement records not yet committed behind the partition's end, per partition this instance owns.",
		}, []string{"topic", "partition"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_held_events",
			Help: "Events held for late content (a miss, or newer than everything the view applied) now.",
		}),
		heldBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_held_bytes",
			Help: "Bytes of the events held for late content now (their key and value, plus a fixed overhead each).",
		}),
		holdTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_hold_seconds",
			Help:    "From reading a held event to delivering it: until its content arrived, the view caught up, or --join-wait passed.",
			Buckets: prometheus.ExponentialBucketsRange(0.001, 60, 30),
		}),
		holdOverflow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enricher_hold_overflow_total",
			Help: "Events not held because the hold was full (--join-hold-max-events or --join-hold-max-bytes): emitted at once, as a miss if the content was unknown.",
		}),
		generations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enricher_group_generations_total",
			Help: "Consumer group generations this member joined (one per rebalance).",
		}),
		scanTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_tail_scan_seconds",
			Help:    "Time to read the output and DLQ written since the committed positions, at the start of a generation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		scanRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enricher_tail_scan_records_total",
			Help: "Output and DLQ records read by the tail scans.",
		}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_exactly_once_fallbacks_total",
			Help: "Input partitions that started a generation at-least-once, because what was written since their committed position could not be known, by reason: no_position (committed by an older version), unreadable (the scan failed), no_header (records without enricher.src in the scanned range), truncated (the range was deleted), repartitioned (the output or DLQ partition count changed).",
		}, []string{"reason"}),
		retriesResolved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enricher_produce_retry_already_written_total",
			Help: "Records of a failed write that a check of their partitions found written: not written again.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.retriesResolved, m.events, m.retries, m.joinWaits, m.joinWaitTime, m.joinWaiting, m.batchSize, m.batchTime, m.produceTime, m.batchAge, m.commitTime, m.latency, m.lag,
			m.held, m.heldBytes, m.holdTime, m.holdOverflow, m.generations, m.scanTime, m.scanRecords, m.fallbacks)
	}
	return m
}

// snapshot returns the event counters by outcome, summed over topics, for /debug/stats.
func (m *metrics) snapshot() map[string]any {
	counts := map[string]float64{}
	ch := make(chan prometheus.Metric, 64)
	go func() { m.events.Collect(ch); close(ch) }()
	for pm := range ch {
		var d dto.Metric
		if err := pm.Write(&d); err != nil {
			continue
		}
		for _, l := range d.GetLabel() {
			if l.GetName() == "result" {
				counts[l.GetValue()] += d.GetCounter().GetValue()
			}
		}
	}
	return map[string]any{"events": counts}
}

// outcomes counts a batch's outcomes so the counters are touched once per
// (topic, result) and batch, not once per event.
type outcomes []outcomeCount

type outcomeCount struct {
	topic, result string
	n             int
}

func (o *outcomes) add(topic, result string) {
	for i := range *o {
		if c := &(*o)[i]; c.topic == topic && c.result == result {
			c.n++
			return
		}
	}
	*o = append(*o, outcomeCount{topic, result, 1})
}
