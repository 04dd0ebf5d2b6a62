package cdc

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	records    *prometheus.CounterVec
	retries    *prometheus.CounterVec
	batchSize  prometheus.Histogram
	applyTime  prometheus.Histogram
	offset     *prometheus.GaugeVec
	endOffset  *prometheus.GaugeVec
	lag        *prometheus.GaugeVec
	ready      prometheus.Gauge
	queueDepth prometheus.GaugeFunc
	rows       prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, queueDepth, rows func() float64) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_cdc_records_total",
			Help: "Content topic records by outcome: applied, stale (older LSN, skipped), noop, heartbeat, dlq.",
		}, []string{"result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_cdc_retries_total",
			Help: "Retries of transient failures in the content view, by reason.",
		}, []string{"reason"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_cdc_batch_records",
			Help:    "Records per applied batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		applyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_cdc_apply_seconds",
			Help:    "Time to dead-letter and commit one batch (records are decoded as they are fetched).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}),
		offset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "enricher_cdc_offset",
			Help: "Next offset the content view will read, per partition (durably stored).",
		}, []string{"topic", "partition"}),
		endOffset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "enricher_cdc_end_offset",
			Help: "Latest known end offset of the content topic, per partition.",
		}, []string{"topic", "partition"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "enricher_cdc_lag",
			Help: "Records the content view is behind the content topic, per partition.",
		}, []string{"topic", "partition"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_view_ready",
			Help: "1 once the content view caught up with the topic's end offsets as of start-up.",
		}),
		queueDepth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "enricher_cdc_queue_records",
			Help: "Records fetched from the content topic and waiting to be applied.",
		}, queueDepth),
		rows: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "enricher_view_rows",
			Help: "Live rows in the content view.",
		}, rows),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.retries, m.batchSize, m.applyTime, m.offset, m.endOffset, m.lag, m.ready, m.queueDepth, m.rows)
	}
	return m
}
