package redissink

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	events         *prometheus.CounterVec
	retries        *prometheus.CounterVec
	mergeTime      prometheus.Histogram
	freshness      prometheus.Histogram
	batchTime      prometheus.Histogram
	members        prometheus.Gauge
	lag            *prometheus.GaugeVec
	rebuilds       prometheus.Counter
	rebuildRecords *prometheus.CounterVec
}

// FreshnessMetric is the name of the freshness histogram.
const FreshnessMetric = "enricher_sink_redis_freshness_seconds"

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_sink_redis_events_total",
			Help: "processed_engagements records by outcome: applied (added to the window), duplicate (event id already counted), out_of_window (event time outside the window), no_content (NULL content_id or engagement_seconds), dlq.",
		}, []string{"outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_sink_redis_retries_total",
			Help: "Retries of transient failures, by reason: redis (applying a batch), merge, rebuild, dlq, commit, schema_registry.",
		}, []string{"reason"}),
		mergeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_sink_redis_merge_seconds",
			Help:    "Time of one merge of the window's buckets into the top key.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    FreshnessMetric,
			Help:    "From an applied record's Kafka timestamp to the end of the first merge that made it visible in the top key.",
			Buckets: prometheus.ExponentialBuckets(0.002, 1.4, 28),
		}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_sink_redis_batch_seconds",
			Help:    "Time to decode, apply (until Redis acknowledged) and dead-letter one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 3, 12),
		}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_sink_redis_top_members",
			Help: "Content ids in the window at the last merge (before trimming to --top).",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "enricher_sink_redis_consumer_lag",
			Help: "Records not yet committed behind the partition's end, per partition this instance owns.",
		}, []string{"partition"}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enricher_sink_redis_rebuilds_total",
			Help: "Rebuilds of the window from Kafka after Redis was found without the sink's state (first start, or Redis lost its data).",
		}),
		rebuildRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_sink_redis_rebuild_records_total",
			Help: "Records read again by rebuilds, by outcome (as enricher_sink_redis_events_total; poison records are skipped, not dead-lettered twice).",
		}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.retries, m.mergeTime, m.freshness, m.batchTime, m.members, m.lag, m.rebuilds, m.rebuildRecords)
	}
	for _, o := range []string{outApplied, outDuplicate, outOutOfWindow, outNoContent, outDLQ} {
		m.events.WithLabelValues(o) // export zeros, so rates work from the start
	}
	return m
}
