package store

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// olderOptions are Badger's options as they were before the write path was
// tuned: 16 MiB memtables, level 0 compacted at 5 tables, 8 MiB tables
// doubling per level.
func olderOptions(opt badger.Options) badger.Options {
	opt = opt.WithMemTableSize(16 << 20).
		WithNumLevelZeroTables(5).
		WithNumLevelZeroTablesStall(15).
		WithBaseTableSize(8 << 20)
	opt.TableSizeMultiplier = 2
	return opt
}

// A data dir written with other options, closed or left by a crash, opens
// with the current ones and reads the same.
func TestOpenDirOfOtherOptions(t *testing.T) {
	tests := []struct {
		name    string
		tune    func(badger.Options) badger.Options
		changes int
		crash   bool
	}{
		{name: "older options, closed", tune: olderOptions, changes: 20_000},
		// More in the memtable log than our memtables can replay: Badger
		// would exit the process.
		{name: "older options, crashed", tune: olderOptions, changes: 80_000, crash: true},
		{name: "current options, crashed", changes: 20_000, crash: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(Options{Dir: dir, tune: tt.tune})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			writeRounds(t, s, tt.changes)
			want := snapshot(t, s)
			if tt.crash {
				dir = crashCopy(t, dir)
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := openTestStore(t, Options{Dir: dir})
			// Replayed and flushed, not kept for every later open to drain.
			logs, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
			for _, l := range logs {
				fi, err := os.Stat(l)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() > 2*memTableSize {
					t.Errorf("memtable log %s: got %d bytes, want at most %d", l, fi.Size(), 2*memTableSize)
				}
			}
			if got := snapshot(t, s2); !reflect.DeepEqual(got, want) {
				t.Errorf("view differs:\n got %+v\nwant %+v", got, want)
			}
			// Writes go on where they stopped.
			mustApply(t, s2, batchOf(upsert(0, int64(tt.changes+1), int64(tt.changes+1))))
			if h := mustHistory(t, s2, 0); h[len(h)-1].Source.LSN != int64(tt.changes+1) {
				t.Errorf("latest version after reopen: got %+v", h[len(h)-1])
			}
		})
	}
}

// writeRounds applies n upserts, in batches of 1000, over 10k rows, with a
// delete and offsets.
func writeRounds(t *testing.T, s *Store, n int) {
	t.Helper()
	var b Batch
	for i := 0; i < n; {
		b.Reset()
		for j := 0; j < 1000 && i < n; j++ {
			b.Put(upsert(i%10_000, int64(i+1), int64(i/10)))
			i++
		}
		b.Put(del(7, int64(i+1), int64(i/10)))
		b.Advance(testTP, int64(i))
		mustApply(t, s, &b)
	}
}

// crashCopy copies the open store's dir, as a crash leaves it: rows in
// memtable logs, no table flushed on close. Nothing may run in Badger's
// background meanwhile, so the writes must not have filled a memtable.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	if tables, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(tables) > 0 {
		t.Fatalf("a memtable was flushed (%v): write less", tables)
	}
	dst := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
