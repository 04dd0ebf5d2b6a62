package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpdateREADMEReplacesTheBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	before := "# title\n\nintro\n\n" + readmeBegin + "\nold table\n" + readmeEnd + "\n\n## next\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Results{Date: "2026-11-22", Machine: "test box", CPUs: 2, Content: 100, Events: 1000, Partitions: 6,
		Passthrough: Throughput{EventsPerSec: 200}, Enricher: Throughput{EventsPerSec: 100}}
	r.finish()
	for range 2 { // a second run replaces the first's table rather than adding to it
		if err := r.UpdateREADME(path, "enricher bench"); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{"# title\n\nintro\n\n" + readmeBegin + "\n", "\n" + readmeEnd + "\n\n## next\n", "test box", "ratio 0.50"} {
		if !strings.Contains(got, want) {
			t.Errorf("README lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old table") || strings.Count(got, "test box") != 1 || strings.Contains(got, "# `enricher bench` results") {
		t.Errorf("block not replaced exactly once:\n%s", got)
	}
	if err := os.WriteFile(path, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateREADME(path, "enricher bench"); err == nil {
		t.Error("a README without the markers was accepted")
	}
}

func TestFinishTakesTheMedianRatio(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rounds []Round
		want   float64
	}{
		{"one round", []Round{{Passthrough: 400, Enricher: 300}}, 0.75},
		{"odd: the middle one", []Round{{Passthrough: 100, Enricher: 90}, {Passthrough: 100, Enricher: 60}, {Passthrough: 100, Enricher: 70}}, 0.70},
		{"even: the mean of the middle two", []Round{{Passthrough: 100, Enricher: 90}, {Passthrough: 100, Enricher: 60}, {Passthrough: 100, Enricher: 70}, {Passthrough: 100, Enricher: 80}}, 0.75},
		{"a round without a passthrough rate is left out", []Round{{Passthrough: 0, Enricher: 90}, {Passthrough: 100, Enricher: 50}}, 0.50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Results{Rounds: tc.rounds, Passthrough: Throughput{EventsPerSec: 1}, Enricher: Throughput{EventsPerSec: 1}}
			r.finish()
			if diff := r.Ratio - tc.want; diff > 1e-9 || diff < -1e-9 {
				t.Fatalf("ratio %v, want %v", r.Ratio, tc.want)
			}
			if r.Targets[0].Value != r.Ratio || r.Targets[0].Met != (r.Ratio >= 0.8) {
				t.Fatalf("target %+v does not follow the median %v", r.Targets[0], r.Ratio)
			}
		})
	}
}
