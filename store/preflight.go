package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// checkTables looks at the footer of every Badger table before Badger does.
// Badger opens tables in its own goroutines and panics (uncatchably) when a
// footer's lengths point outside the file, e.g. after a truncated copy. A
// footer is: index, index length (4), checksum, checksum length (4).
func checkTables(dir string) error {
	if err := removeEmptyLogs(dir); err != nil {
		return err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := checkTableFooter(p); err != nil {
			return fmt.Errorf("table %s: %w", filepath.Base(p), err)
		}
	}
	return nil
}

// removeEmptyLogs deletes zero-length memtable WAL (.mem) and value log
// (.vlog) files. A process killed between Badger creating such a file and
// sizing it leaves it empty, and Badger then refuses to open at all
// (dgraph-io/badger#2207). An empty file holds no write, so nothing is lost.
func removeEmptyLogs(dir string) error {
	for _, pattern := range []string{"*.mem", "*.vlog"} {
		paths, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return err
		}
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if fi.Size() == 0 {
				if err := os.Remove(p); err != nil {
					return fmt.Errorf("remove empty %s: %w", filepath.Base(p), err)
				}
			}
		}
	}
	return nil
}

func checkTableFooter(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	u32 := func(off int64) (int64, error) {
		var b [4]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return 0, err
		}
		return int64(binary.BigEndian.Uint32(b[:])), nil
	}
	if size < 8 {
		return fmt.Errorf("%d bytes: %w", size, errCorrupt)
	}
	checksumLen, err := u32(size - 4)
	if err != nil {
		return err
	}
	if checksumLen > size-8 {
		return fmt.Errorf("checksum length %d in %d bytes: %w", checksumLen, size, errCorrupt)
	}
	indexLen, err := u32(size - 8 - checksumLen)
	if err != nil {
		return err
	}
	if indexLen > size-8-checksumLen {
		return fmt.Errorf("index length %d in %d bytes: %w", indexLen, size, errCorrupt)
	}
	return nil
}
