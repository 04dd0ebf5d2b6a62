// Package promq reads Prometheus metrics back, for the tools that report on
// a running service (the demo's status line, the bench's latency): a
// quantile estimated from a histogram's buckets, the difference of two
// scrapes of one histogram, and a scrape of a /metrics endpoint.
//
// Quantile estimates as Prometheus' histogram_quantile does: linear
// interpolation inside the bucket that holds the rank, the lowest bucket
// starting at 0, and a rank in the +Inf bucket answered with the highest
// finite bound. It works on histograms as a Gatherer returns them (no +Inf
// bucket) and as the text format carries them (with one).
package promq

import (
	"context"
	"fmt"
	"math"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) of what h observed; NaN
// when h is nil or observed nothing.
func Quantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return math.NaN()
	}
	rank, lower, prev := q*total, 0.0, 0.0
	for _, b := range h.GetBucket() {
		upper, count := b.GetUpperBound(), float64(b.GetCumulativeCount())
		if count >= rank {
			switch {
			case math.IsInf(upper, 1):
				return lower
			case count == prev:
				return upper
			}
			return lower + (upper-lower)*(rank-prev)/(count-prev)
		}
		lower, prev = upper, count
	}
	return lower
}

// Sub is the histogram of what after observed since before, two readings
// of one histogram; a nil before is an empty one. It is nil when their
// buckets differ.
func Sub(after, before *dto.Histogram) *dto.Histogram {
	if after == nil {
		return nil
	}
	if before == nil {
		return after
	}
	ab, bb := after.GetBucket(), before.GetBucket()
	if len(ab) != len(bb) {
		return nil
	}
	d := &dto.Histogram{Bucket: make([]*dto.Bucket, len(ab))}
	d.SampleCount = new(after.GetSampleCount() - before.GetSampleCount())
	d.SampleSum = new(after.GetSampleSum() - before.GetSampleSum())
	for i, b := range ab {
		if b.GetUpperBound() != bb[i].GetUpperBound() {
			return nil
		}
		d.Bucket[i] = &dto.Bucket{UpperBound: b.UpperBound,
			CumulativeCount: new(b.GetCumulativeCount() - bb[i].GetCumulativeCount())}
	}
	return d
}

// Histogram is the histogram of the first series of the family name; nil
// when there is none.
func Histogram(mfs map[string]*dto.MetricFamily, name string) *dto.Histogram {
	for _, m := range mfs[name].GetMetric() {
		if h := m.GetHistogram(); h != nil {
			return h
		}
	}
	return nil
}

// Scrape reads the metrics a Prometheus endpoint (url, e.g.
// http://host:port/metrics) serves in the text format, by family name.
func Scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return mfs, nil
}
