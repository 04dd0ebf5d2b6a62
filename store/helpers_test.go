package store

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
)

const testTopic = "thmanyah.public.content"

var testTP = TopicPartition{Topic: testTopic, Partition: 0}

var errTest = errors.New("simulated crash")

// newTestStore opens a store in a fresh directory, closed at the end of the test.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	return openTestStore(t, Options{Dir: t.TempDir()})
}

func openTestStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// reopen closes s and opens its directory again, as a restart does.
func reopen(t testing.TB, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return openTestStore(t, Options{Dir: s.dir, HistoryRetention: s.retention})
}

// testID returns an id whose byte order follows n.
func testID(n int) uuid.UUID {
	var id uuid.UUID
	id[0] = 0x42
	binary.BigEndian.PutUint64(id[8:], uint64(n))
	return id
}

// upsert is a change to row n committed at LSN lsn and time ts; the row's
// values derive from lsn so tests can tell versions apart.
func upsert(n int, lsn, ts int64) Change {
	return Change{
		ID: testID(n),
		Row: Row{
			Slug:          fmt.Sprintf("slug-%d-%d", n, lsn),
			Title:         fmt.Sprintf("title %d at %d", n, lsn),
			ContentType:   sql.NullString{String: "podcast", Valid: true},
			LengthSeconds: sql.NullInt32{Int32: int32(lsn), Valid: true},
			PublishMicros: ts * 1000,
		},
		Source: Source{Topic: testTopic, Offset: lsn, LSN: lsn, TsMs: ts},
	}
}

func del(n int, lsn, ts int64) Change {
	return Change{ID: testID(n), Delete: true, Source: Source{Topic: testTopic, Offset: lsn, LSN: lsn, TsMs: ts}}
}

func batchOf(changes ...Change) *Batch {
	var b Batch
	for _, c := range changes {
		b.Put(c)
	}
	return &b
}

func mustApply(t testing.TB, s *Store, b *Batch) ApplyStats {
	t.Helper()
	st, err := s.Apply(b)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return st
}

// lengthOf returns the row's current length_seconds, or -1 when not live.
func lengthOf(s *Store, n int) int32 {
	l, ok := s.Current(testID(n))
	if !ok {
		return -1
	}
	return l.LengthSeconds.Int32
}
