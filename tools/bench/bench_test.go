package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// enricherBinary builds ./cmd/enricher into dir: the benchmark's children
// are processes of the real binary.
func enricherBinary(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "enricher")
	cmd := exec.Command(goCmd(), "build", "-o", path, "./cmd/enricher")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/enricher: %v\n%s", err, out)
	}
	return path
}

// TestBenchOnTwoCPUSets runs a small benchmark end to end, once pinned to
// one CPU and once on all, with window profiles: every phase must produce a
// rate, the scaling table must have both sets, and every enricher child's
// profile must cover its window and parse.
func TestBenchOnTwoCPUSets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the benchmark's children")
	}
	dir := t.TempDir()
	exe := enricherBinary(t, dir)
	var log bytes.Buffer
	cfg := Config{Exe: exe, Content: 2000, Events: 20_000, Partitions: 3, Rate: 2000, LatencyFor: time.Second,
		ScaleContent: 4000, Rounds: 2, CPUs: []int{1, 0}, ProfileDir: filepath.Join(dir, "prof"),
		RunArgs: []string{"run"}, PassthroughArgs: []string{"bench", "passthrough"},
		ProfiledRunArgs: func(file string, window bool) []string {
			return []string{"bench", "profiled-run", "--cpuprofile", file, "--window=" + strconv.FormatBool(window), "--"}
		},
		OutDir: filepath.Join(dir, "out"), Command: "enricher bench (test)", Log: &log}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, cfg, &out); err != nil {
		t.Fatalf("bench: %v\nlog:\n%s", err, log.String())
	}
	md, err := os.ReadFile(filepath.Join(cfg.OutDir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(cfg.OutDir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(js, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Scaling) != 2 || res.Scaling[0].CPUs != 1 || len(res.Scaling[1].CPUSet) < 1 {
		t.Fatalf("scaling points %+v, want 1 CPU then all", res.Scaling)
	}
	for _, p := range res.Scaling {
		if p.Passthrough.EventsPerSec <= 0 || p.Enricher.EventsPerSec <= 0 || p.Enricher.CPUSecPerMillion <= 0 || p.BigView == nil || p.TwoInstances == nil {
			t.Errorf("%d CPUs: a phase measured nothing: %+v", p.CPUs, p)
		}
	}
	if !strings.Contains(string(md), "Scaling (each row") || !strings.Contains(string(md), "enricher CPU per event, ") {
		t.Errorf("RESULTS.md lacks the scaling table or its target:\n%s", md)
	}
	for _, set := range []string{"cpus-1", "cpus-" + strconv.Itoa(len(res.Scaling[1].CPUSet))} {
		for _, name := range []string{"enricher", "enricher-round2", "two-1", "two-2", "big"} {
			for _, kind := range []string{".pprof", ".heap.pprof"} {
				checkProfile(t, exe, filepath.Join(cfg.ProfileDir, set, name+kind))
			}
		}
	}
}

// checkProfile reads a profile with go tool pprof, as the README tells a
// user to: it must parse, and a CPU profile must be one.
func checkProfile(t *testing.T, exe, path string) {
	t.Helper()
	out, err := exec.Command(goCmd(), "tool", "pprof", "-top", exe, path).CombinedOutput()
	want := "Type: cpu"
	if strings.HasSuffix(path, ".heap.pprof") {
		want = "Type: inuse_space"
	}
	if err != nil || !bytes.Contains(out, []byte(want)) {
		t.Errorf("go tool pprof -top %s: %v, want %q in:\n%s", path, err, want, out)
	}
}

// goCmd is the go command on PATH, or under $GOROOT (as go test sets it).
func goCmd() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}
