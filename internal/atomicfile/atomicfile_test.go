package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path string
		content    []string // written in turn; the last must be read back
	}{
		{"new file", filepath.Join(dir, "a.json"), []string{"one"}},
		{"replaced", filepath.Join(dir, "b.json"), []string{"one", "two, longer", "3"}},
		{"empty", filepath.Join(dir, "c.json"), []string{"x", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range tt.content {
				if err := Write(tt.path, []byte(c)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.content[len(tt.content)-1]; string(got) != want {
				t.Fatalf("read %q, want %q", got, want)
			}
		})
	}
	// No temporary file is left behind.
	left, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestWriteMissingDirectory(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "no", "such", "f"), []byte("x")); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}
