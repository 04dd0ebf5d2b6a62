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
