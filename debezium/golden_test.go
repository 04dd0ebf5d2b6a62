package debezium

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the decoder's output (never touches the fixtures)")

// variants returns a record's variants in a stable order.
func variants(rec manifestRecord) []string {
	vs := make([]string, 0, len(rec.Files))
	for v := range rec.Files {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// TestGolden decodes every record × variant in the manifest and compares the
// rendered event with testdata/golden/<name>.<variant>.json.
func TestGolden(t *testing.T) {
	reg := newFakeRegistry(t)
	d := registryDecoder(t, reg.URL())
	seen := map[string]bool{}
	for _, rec := range loadManifest(t) {
		for _, variant := range variants(rec) {
			files := rec.Files[variant]
			seen[files["key"]], seen[files["value"]] = true, true
			t.Run(rec.Name+"."+variant, func(t *testing.T) {
				ev, err := decodeFixture(t, d, rec, files)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				got, err := render(ev)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", rec.Name+"."+variant+".json")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./debezium -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the decoder's output:\n--- want\n%s--- got\n%s", path, want, got)
				}
			})
		}
	}
	// Every record file in the directory must be covered by the manifest,
	// or a fixture added later would silently go untested.
	all, err := filepath.Glob(filepath.Join(fixturesDir(), "*.*.*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		base := filepath.Base(f)
		if ext := filepath.Ext(base); ext != ".json" && ext != ".hex" || base == "manifest.json" {
			continue
		}
		if !seen[base] {
			t.Errorf("fixture %s is not in manifest.json, so it is not tested", base)
		}
	}
}
