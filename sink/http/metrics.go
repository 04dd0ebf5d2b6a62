package httpsink

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests     *prometheus.CounterVec
	retries      *prometheus.CounterVec
	breakerState prometheus.Gauge
	breakerMoves *prometheus.CounterVec
	dlqRecords   *prometheus.CounterVec
	events       *prometheus.CounterVec
	batchTime    prometheus.Histogram
	requestTime  prometheus.Histogram
	batchSize    prometheus.Histogram
	inflight     prometheus.Gauge
	lag          *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_sink_http_requests_total",
			Help: "POSTs to the endpoint by outcome: status class (2xx, 3xx, 4xx, 5xx), timeout, or error (no HTTP answer).",
		}, []string{"class"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_sink_http_retries_total",
			Help: "Retries of a batch, by reason: 5xx, 408, 429, timeout, error; commit and dlq for Kafka, schema_registry for decoding.",
		}, []string{"reason"}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_sink_http_breaker_state",
			Help: "Circuit breaker state: 0 closed, 1 half-open (one probe allowed), 2 open (requests wait).",
		}),
		breakerMoves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_sink_http_breaker_transitions_total",
			Help: "Circuit breaker transitions, by the state entered.",
		}, []string{"state"}),
		dlqRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_sink_http_dlq_records_total",
			Help: "Records dead-lettered, by reason: decode (not a processed_engagements record), rejected (4xx other than 408/429), retries_exhausted.",
		}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_sink_http_events_total",
			Help: "Records done with, by result: delivered (acknowledged by the endpoint) or dlq.",
		}, []string{"result"}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_sink_http_batch_seconds",
			Help:    "From a batch's first POST to its acknowledgement or dead-lettering, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 3, 12),
		}),
		requestTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_sink_http_request_seconds",
			Help:    "Duration of one POST, whatever its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 3, 12),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_sink_http_batch_records",
			Help:    "Records per batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_sink_http_inflight_requests",
			Help: "POSTs in flight now (at most --concurrency).",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "enricher_sink_http_consumer_lag",
			Help: "Records not yet committed behind the partition's end, per partition this instance owns.",
		}, []string{"topic", "partition"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.retries, m.breakerState, m.breakerMoves, m.dlqRecords, m.events,
			m.batchTime, m.requestTime, m.batchSize, m.inflight, m.lag)
	}
	return m
}

func (m *metrics) breakerChanged(s BreakerState) {
	m.breakerState.Set(float64(s))
	m.breakerMoves.WithLabelValues(s.String()).Inc()
}
