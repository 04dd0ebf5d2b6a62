package promq

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// hist builds a histogram from upper bounds and cumulative counts; total is
// its sample count.
func hist(total uint64, bounds []float64, counts []uint64) *dto.Histogram {
	h := &dto.Histogram{SampleCount: new(total), SampleSum: new(0.0)}
	for i := range bounds {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: new(bounds[i]), CumulativeCount: new(counts[i])})
	}
	return h
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name string
		h    *dto.Histogram
		q    float64
		want float64 // NaN: want NaN
	}{
		{"nil histogram", nil, 0.5, math.NaN()},
		{"nothing observed", hist(0, []float64{1, 2}, []uint64{0, 0}), 0.5, math.NaN()},
		{"inside the first bucket, from 0", hist(10, []float64{1, 2}, []uint64{10, 10}), 0.5, 0.5},
		{"interpolated in the second bucket", hist(10, []float64{1, 3}, []uint64{5, 10}), 0.75, 2},
		{"on a bucket boundary", hist(10, []float64{1, 3}, []uint64{5, 10}), 0.5, 1},
		{"q 0 in an empty first bucket", hist(4, []float64{1, 3}, []uint64{0, 4}), 0, 1},
		{"in the +Inf bucket: highest finite bound", hist(10, []float64{1, 2, inf}, []uint64{2, 5, 10}), 0.99, 2},
		{"past the last bucket of a gathered histogram", hist(10, []float64{1, 2}, []uint64{2, 5}), 0.99, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Quantile(tc.h, tc.q)
			if math.IsNaN(tc.want) && !math.IsNaN(got) || !math.IsNaN(tc.want) && math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSub(t *testing.T) {
	before := hist(5, []float64{1, 2}, []uint64{4, 5})
	for _, tc := range []struct {
		name          string
		after, before *dto.Histogram
		want          []uint64 // nil: want a nil histogram
		wantCount     uint64
	}{
		{"since before", hist(12, []float64{1, 2}, []uint64{6, 12}), before, []uint64{2, 7}, 7},
		{"nil before: everything", hist(12, []float64{1, 2}, []uint64{6, 12}), nil, []uint64{6, 12}, 12},
		{"other buckets", hist(12, []float64{1, 5}, []uint64{6, 12}), before, nil, 0},
		{"fewer buckets", hist(12, []float64{1}, []uint64{12}), before, nil, 0},
		{"nil after", nil, before, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Sub(tc.after, tc.before)
			if tc.want == nil {
				if d != nil {
					t.Fatalf("got %v, want nil", d)
				}
				return
			}
			var got []uint64
			for _, b := range d.GetBucket() {
				got = append(got, b.GetCumulativeCount())
			}
			if len(got) != len(tc.want) || got[0] != tc.want[0] || got[1] != tc.want[1] || d.GetSampleCount() != tc.wantCount {
				t.Errorf("got buckets %v count %d, want %v count %d", got, d.GetSampleCount(), tc.want, tc.wantCount)
			}
		})
	}
}

// TestScrapeReadsWhatAGathererServes checks a histogram read back through
// the text format gives the quantiles of the gathered one.
func TestScrapeReadsWhatAGathererServes(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_seconds", Help: "h", Buckets: []float64{0.01, 0.1, 1}})
	reg.MustRegister(h)
	for i := range 100 {
		h.Observe(float64(i) / 100)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	mfs, err := Scrape(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	direct := gathered[0].GetMetric()[0].GetHistogram()
	scraped := Histogram(mfs, "test_seconds")
	for _, q := range []float64{0.5, 0.99} {
		if got, want := Quantile(scraped, q), Quantile(direct, q); got != want {
			t.Errorf("q %v: scraped %v, gathered %v", q, got, want)
		}
	}
	if Histogram(mfs, "absent") != nil {
		t.Error("Histogram of an absent family is not nil")
	}
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	if _, err := Scrape(context.Background(), missing.URL); err == nil {
		t.Error("a 404 scraped without an error")
	}
}
