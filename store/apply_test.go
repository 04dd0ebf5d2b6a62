package store

import (
	"errors"
	"strings"
	"testing"
)

func TestApplyOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		first   []Change // applied before, when set
		changes []Change
		want    ApplyStats
		wantLen int
		wantLSN map[int]int64 // row -> current LSN; -1 means not live
	}{
		{
			name:    "new rows",
			changes: []Change{upsert(1, 10, 100), upsert(2, 11, 100)},
			want:    ApplyStats{Applied: 2},
			wantLen: 2,
			wantLSN: map[int]int64{1: 10, 2: 11},
		},
		{
			name:    "redelivered batch is stale",
			first:   []Change{upsert(1, 10, 100), upsert(2, 11, 100), del(2, 12, 101)},
			changes: []Change{upsert(1, 10, 100), upsert(2, 11, 100), del(2, 12, 101)},
			want:    ApplyStats{Stale: 3},
			wantLen: 1,
			wantLSN: map[int]int64{1: 10, 2: -1},
		},
		{
			name:    "older lsn never moves a row back",
			first:   []Change{upsert(1, 20, 200)},
			changes: []Change{upsert(1, 15, 150), del(1, 19, 190)},
			want:    ApplyStats{Stale: 2},
			wantLen: 1,
			wantLSN: map[int]int64{1: 20},
		},
		{
			name:    "unknown lsn always applies",
			first:   []Change{upsert(1, 0, 100)},
			changes: []Change{upsert(1, 0, 100), upsert(1, 0, 100)},
			want:    ApplyStats{Applied: 2},
			wantLen: 1,
			wantLSN: map[int]int64{1: 0},
		},
		{
			name:    "known lsn after unknown applies",
			first:   []Change{upsert(1, 0, 100)},
			changes: []Change{upsert(1, 5, 100)},
			want:    ApplyStats{Applied: 1},
			wantLen: 1,
			wantLSN: map[int]int64{1: 5},
		},
		{
			name:    "delete of absent row is noop",
			changes: []Change{del(7, 10, 100)},
			want:    ApplyStats{Noop: 1},
			wantLSN: map[int]int64{7: -1},
		},
		{
			name:    "delete of deleted row is noop",
			first:   []Change{upsert(1, 10, 100), del(1, 11, 110)},
			changes: []Change{del(1, 12, 120)},
			want:    ApplyStats{Noop: 1},
			wantLSN: map[int]int64{1: -1},
		},
		{
			name:    "same row twice in a batch",
			changes: []Change{upsert(1, 10, 100), upsert(1, 11, 110), upsert(1, 11, 110)},
			want:    ApplyStats{Applied: 2, Stale: 1},
			wantLen: 1,
			wantLSN: map[int]int64{1: 11},
		},
		{
			name:    "re-creation after delete",
			first:   []Change{upsert(1, 10, 100), del(1, 11, 110)},
			changes: []Change{upsert(1, 12, 120)},
			want:    ApplyStats{Applied: 1},
			wantLen: 1,
			wantLSN: map[int]int64{1: 12},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			if tt.first != nil {
				mustApply(t, s, batchOf(tt.first...))
			}
			historyBefore := len(mustHistory(t, s, 1))
			got := mustApply(t, s, batchOf(tt.changes...))
			if got != tt.want {
				t.Errorf("stats: got %+v, want %+v", got, tt.want)
			}
			if got := s.Len(); got != tt.wantLen {
				t.Errorf("Len: got %d, want %d", got, tt.wantLen)
			}
			for n, want := range tt.wantLSN {
				l, ok := s.Current(testID(n))
				switch {
				case want < 0 && ok:
					t.Errorf("row %d: got live %+v, want absent", n, l)
				case want >= 0 && !ok:
					t.Errorf("row %d: got absent, want LSN %d", n, want)
				case ok && l.LSN != want:
					t.Errorf("row %d: got LSN %d, want %d", n, l.LSN, want)
				}
			}
			if tt.want.Applied == 0 {
				if got := len(mustHistory(t, s, 1)); got != historyBefore {
					t.Errorf("row 1 versions: got %d, want %d (nothing written)", got, historyBefore)
				}
			}
		})
	}
}

func TestApplyPersistsRowsWithOffsets(t *testing.T) {
	s := newTestStore(t)
	b := batchOf(upsert(1, 10, 100), upsert(2, 11, 100))
	b.Advance(testTP, 2)
	b.Advance(TopicPartition{Topic: testTopic, Partition: 3}, 7)
	mustApply(t, s, b)

	s = reopen(t, s)
	want := map[TopicPartition]int64{testTP: 2, {Topic: testTopic, Partition: 3}: 7}
	if got := s.Offsets(); !equalOffsets(got, want) {
		t.Errorf("offsets: got %v, want %v", got, want)
	}
	if got := s.Len(); got != 2 {
		t.Errorf("Len: got %d, want 2", got)
	}
}

func TestApplyOffsetsOnly(t *testing.T) {
	s := newTestStore(t)
	var b Batch
	b.Advance(testTP, 41)
	b.Advance(testTP, 42) // collapses with the previous one
	if got := len(b.advs); got != 1 {
		t.Errorf("advances recorded: got %d, want 1", got)
	}
	mustApply(t, s, &b)
	if got := reopen(t, s).Offsets()[testTP]; got != 42 {
		t.Errorf("offset: got %d, want 42", got)
	}
}

// A failing commit leaves memory as it was, and the directory holds the
// previous consistent pair of rows and offsets.
func TestApplyFailureKeepsPreviousState(t *testing.T) {
	s := newTestStore(t)
	b := batchOf(upsert(1, 10, 100))
	b.Advance(testTP, 1)
	mustApply(t, s, b)

	if err := s.db.Close(); err != nil { // Badger fails under the store
		t.Fatalf("close badger: %v", err)
	}
	b.Reset()
	b.Put(upsert(1, 11, 110))
	b.Put(upsert(2, 12, 110))
	b.Advance(testTP, 3)
	if _, err := s.Apply(b); err == nil {
		t.Fatal("apply on a failed db: got nil error, want one")
	}
	if got := lengthOf(s, 1); got != 10 {
		t.Errorf("memory row 1 length: got %d, want 10", got)
	}
	if got := lengthOf(s, 2); got != -1 {
		t.Errorf("memory row 2 length: got %d, want absent", got)
	}
	if got := s.Offsets()[testTP]; got != 1 {
		t.Errorf("memory offset: got %d, want 1", got)
	}
	s.closed.Store(true) // Badger is already closed

	s = openTestStore(t, Options{Dir: s.dir})
	if got := lengthOf(s, 1); got != 10 {
		t.Errorf("reopened row 1 length: got %d, want 10", got)
	}
	if got := s.Offsets()[testTP]; got != 1 {
		t.Errorf("reopened offset: got %d, want 1", got)
	}
	if got := s.Len(); got != 1 {
		t.Errorf("reopened Len: got %d, want 1", got)
	}
}

func TestApplyAfterClose(t *testing.T) {
	s := newTestStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Apply(batchOf(upsert(1, 1, 1)))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("apply after close: got %v, want ErrClosed", err)
	}
}

// splitBatch puts rows 0..n-1, each followed by the advance past its record.
func splitBatch(n int) *Batch {
	var b Batch
	for i := range n {
		b.Put(upsert(i, int64(10+i), 100))
		b.Advance(testTP, int64(i+1))
	}
	return &b
}

func TestApplySplitKeepsOffsetsWithRows(t *testing.T) {
	tests := []struct {
		name       string
		limit      int
		failCommit int // -1: none
		wantErr    bool
		wantRows   int // live rows after reopening
		wantOffset int64
		wantCommit int
	}{
		{name: "fits one txn", limit: 0, failCommit: -1, wantRows: 5, wantOffset: 5, wantCommit: 1},
		{name: "split in three", limit: 2, failCommit: -1, wantRows: 5, wantOffset: 5, wantCommit: 3},
		{name: "crash after first of three", limit: 2, failCommit: 1, wantErr: true, wantRows: 2, wantOffset: 2, wantCommit: 1},
		{name: "crash after second of three", limit: 2, failCommit: 2, wantErr: true, wantRows: 4, wantOffset: 4, wantCommit: 2},
		{name: "one change per txn", limit: 1, failCommit: -1, wantRows: 5, wantOffset: 5, wantCommit: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			s.maxTxnWrites = tt.limit
			commits := 0
			s.beforeCommit = func(n int) error {
				if n == tt.failCommit {
					return errors.New("simulated crash")
				}
				commits++
				return nil
			}
			st, err := s.Apply(splitBatch(5))
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("apply error: got %v, want error %v", err, tt.wantErr)
			}
			if commits != tt.wantCommit {
				t.Errorf("commits: got %d, want %d", commits, tt.wantCommit)
			}
			if st.Applied != tt.wantRows {
				t.Errorf("applied: got %d, want %d", st.Applied, tt.wantRows)
			}
			s = reopen(t, s)
			if got := s.Len(); got != tt.wantRows {
				t.Errorf("rows: got %d, want %d", got, tt.wantRows)
			}
			if got := s.Offsets()[testTP]; got != tt.wantOffset {
				t.Errorf("offset: got %d, want %d", got, tt.wantOffset)
			}
			// Every committed row is covered by the offset and nothing past it is.
			for i := range 5 {
				if _, live := s.Current(testID(i)); live != (int64(i) < tt.wantOffset) {
					t.Errorf("row %d live: got %v with offset %d", i, live, tt.wantOffset)
				}
			}
			// Re-consuming from the stored offset completes the view.
			rest := splitBatch(5)
			st = mustApply(t, s, rest)
			if want := (ApplyStats{Applied: 5 - tt.wantRows, Stale: tt.wantRows}); st != want {
				t.Errorf("re-apply: got %+v, want %+v", st, want)
			}
		})
	}
}

// A batch past Badger's own transaction size is split without a test cap,
// including when the offsets no longer fit beside the changes.
func TestApplySplitsOnTxnTooBig(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 30k rows")
	}
	tests := []struct {
		name string
		tp   TopicPartition
	}{
		{name: "short topic", tp: testTP},
		{name: "offset bigger than a row", tp: TopicPartition{Topic: strings.Repeat("t", 4000), Partition: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			n := int(s.db.MaxBatchCount()) + 1000
			var b Batch
			for i := range n {
				b.Put(upsert(i, int64(10+i), 100))
				b.Advance(tt.tp, int64(i+1))
			}
			commits := 0
			s.beforeCommit = func(int) error { commits++; return nil }
			st := mustApply(t, s, &b)
			if st.Applied != n {
				t.Errorf("applied: got %d, want %d", st.Applied, n)
			}
			if commits < 2 {
				t.Errorf("commits: got %d, want at least 2", commits)
			}
			s = reopen(t, s)
			if got := s.Len(); got != n {
				t.Errorf("rows: got %d, want %d", got, n)
			}
			if got := s.Offsets()[tt.tp]; got != int64(n) {
				t.Errorf("offset: got %d, want %d", got, n)
			}
		})
	}
}

func TestBatchReset(t *testing.T) {
	var b Batch
	b.Put(upsert(1, 1, 1))
	b.Truncate(Source{LSN: 2})
	b.Advance(testTP, 3)
	if got := b.Len(); got != 2 {
		t.Errorf("Len: got %d, want 2", got)
	}
	b.Reset()
	if got := b.Len(); got != 0 || len(b.advs) != 0 {
		t.Errorf("after Reset: got %d changes and %d advances, want 0 and 0", got, len(b.advs))
	}
}

func equalOffsets(a, b map[TopicPartition]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func mustHistory(t testing.TB, s *Store, n int) []Version {
	t.Helper()
	h, err := s.History(testID(n))
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	return h
}
