package store

import (
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	const (
		nowMs  = 10_000_000
		cutoff = nowMs - 3_600_000 // one hour of retention
	)
	tests := []struct {
		name        string
		changes     []Change // all on row 1, LSN = ts
		wantRemoved int
		wantSeqs    []int64 // sequences kept
		wantLive    bool
	}{
		{
			name:        "superseded before cutoff",
			changes:     []Change{upsert(1, 1_000_000, 1_000_000), upsert(1, 2_000_000, 2_000_000), upsert(1, 7_000_000, 7_000_000)},
			wantRemoved: 1,
			wantSeqs:    []int64{1, 2},
			wantLive:    true,
		},
		{
			name:        "only the latest live version stays",
			changes:     []Change{upsert(1, 1_000_000, 1_000_000), upsert(1, 2_000_000, 2_000_000), upsert(1, 3_000_000, 3_000_000)},
			wantRemoved: 2,
			wantSeqs:    []int64{2},
			wantLive:    true,
		},
		{
			name:     "single old version stays",
			changes:  []Change{upsert(1, 1_000_000, 1_000_000)},
			wantSeqs: []int64{0},
			wantLive: true,
		},
		{
			name:     "validity ending at the cutoff stays",
			changes:  []Change{upsert(1, 1_000_000, 1_000_000), upsert(1, cutoff, cutoff)},
			wantSeqs: []int64{0, 1},
			wantLive: true,
		},
		{
			name:        "deleted before cutoff loses everything",
			changes:     []Change{upsert(1, 1_000_000, 1_000_000), del(1, 2_000_000, 2_000_000)},
			wantRemoved: 2,
		},
		{
			name:     "deleted after cutoff keeps its last live version",
			changes:  []Change{upsert(1, 1_000_000, 1_000_000), del(1, 8_000_000, 8_000_000)},
			wantSeqs: []int64{0, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t, Options{Dir: t.TempDir(), HistoryRetention: time.Hour})
			mustApply(t, s, batchOf(tt.changes...))
			mustApply(t, s, batchOf(upsert(2, 1, 1))) // an untouched neighbour
			removed, err := s.Prune(time.UnixMilli(nowMs))
			if err != nil {
				t.Fatalf("prune: %v", err)
			}
			if removed != tt.wantRemoved {
				t.Errorf("removed: got %d, want %d", removed, tt.wantRemoved)
			}
			check := func(s *Store, when string) {
				t.Helper()
				if got := seqsOf(mustHistory(t, s, 1)); !equalInts(got, tt.wantSeqs) {
					t.Errorf("%s: sequences: got %v, want %v", when, got, tt.wantSeqs)
				}
				if _, live := s.Current(testID(1)); live != tt.wantLive {
					t.Errorf("%s: live: got %v, want %v", when, live, tt.wantLive)
				}
				if got := s.Len(); got != btoi(tt.wantLive)+1 {
					t.Errorf("%s: Len: got %d, want %d", when, got, btoi(tt.wantLive)+1)
				}
				if tt.wantSeqs == nil {
					if _, ok := s.AsOf(testID(1), 1_500_000); ok {
						t.Errorf("%s: AsOf on a pruned row: got a version, want none", when)
					}
				}
			}
			check(s, "after prune")
			s = reopen(t, s)
			check(s, "after restart")

			// Sequences continue after what is kept.
			mustApply(t, s, batchOf(upsert(1, 9_000_000, 9_000_000)))
			h := mustHistory(t, s, 1)
			wantNext := int64(0)
			if n := len(tt.wantSeqs); n > 0 {
				wantNext = tt.wantSeqs[n-1] + 1
			}
			if got := int64(h[len(h)-1].Seq); got != wantNext {
				t.Errorf("next sequence: got %d, want %d", got, wantNext)
			}
		})
	}
}

// Pruning split over many transactions ends where a single one would.
func TestPruneSplit(t *testing.T) {
	s := openTestStore(t, Options{Dir: t.TempDir(), HistoryRetention: time.Millisecond})
	var b Batch
	for i := range 4 {
		for v := range 3 {
			b.Put(upsert(i, int64(10*i+v+1), int64(100+v)))
		}
	}
	b.Put(del(0, 100, 200))
	mustApply(t, s, &b)
	s.maxTxnWrites = 1
	removed, err := s.Prune(time.UnixMilli(1000))
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	if want := 4 + 3*2; removed != want {
		t.Errorf("removed: got %d, want %d", removed, want)
	}
	s = reopen(t, s)
	for i := range 4 {
		want := 1
		if i == 0 {
			want = 0
		}
		if got := len(mustHistory(t, s, i)); got != want {
			t.Errorf("row %d versions: got %d, want %d", i, got, want)
		}
	}
}

func seqsOf(h []Version) []int64 {
	var out []int64
	for _, v := range h {
		out = append(out, int64(v.Seq))
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
