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
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_events_total",
			Help: "Engagement records by input topic and outcome: enriched (join hit), miss (content unknown), no_content_id, skipped (delete, tombstone, truncate, heartbeat), dlq.",
		}, []string{"topic", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_retries_total",
			Help: "Retries of transient failures in the enricher, by reason: produce, commit, schema_registry.",
		}, []string{"reason"}),
		joinWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_join_waits_total",
			Help: "Waits for the content view after a miss or an event newer than the view, by outcome: caught_up, timeout, error.",
		}, []string{"outcome"}),
		joinWaitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_join_wait_seconds",
			Help:    "Time batches with a miss waited for the content view.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}),
		joinWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_join_waiting",
			Help: "Batches waiting for the content view because of a miss or an event newer than the view.",
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
	}
	if reg != nil {
		reg.MustRegister(m.events, m.retries, m.joinWaits, m.joinWaitTime, m.joinWaiting, m.batchSize, m.batchTime, m.produceTime, m.batchAge, m.commitTime, m.latency, m.lag)
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
