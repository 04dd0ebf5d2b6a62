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

// TestWriteKeepsNotes rewrites RESULTS.md twice and checks the hand-written
// notes below the marker survive while the generated part is replaced.
func TestWriteKeepsNotes(t *testing.T) {
	dir := t.TempDir()
	notes := notesMarker + "\n\n## Before and after\n\nhand-written\n"
	if err := os.WriteFile(filepath.Join(dir, "RESULTS.md"), []byte("# old generated table\n\n"+notes), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Results{Date: "2026-12-05", Machine: "test box", CPUs: 2, Passthrough: Throughput{EventsPerSec: 200}, Enricher: Throughput{EventsPerSec: 180}}
	r.finish()
	for range 2 {
		if err := r.Write(dir, "enricher bench --out "+dir); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if strings.Contains(got, "old generated table") || strings.Count(got, notesMarker) != 1 || !strings.HasSuffix(got, notes) ||
		!strings.HasPrefix(got, "# `enricher bench` results") {
		t.Errorf("RESULTS.md is not the new table followed by the notes once:\n%s", got)
	}
}
