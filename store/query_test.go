package store

import (
	"slices"
	"testing"

	"github.com/google/uuid"
)

// opsHistory builds row 1 as create 100, update 200, delete 300, re-create
// 400, update 500, truncate 600, re-create 700 and a second version at 700.
func opsHistory(t *testing.T, s *Store) {
	t.Helper()
	b := batchOf(upsert(1, 10, 100), upsert(1, 20, 200), del(1, 30, 300), upsert(1, 40, 400), upsert(1, 50, 500))
	b.Truncate(Source{Topic: testTopic, LSN: 60, TsMs: 600})
	b.Put(upsert(1, 70, 700))
	b.Put(upsert(1, 80, 700))
	mustApply(t, s, b)
}

func TestHistoryOps(t *testing.T) {
	s := newTestStore(t)
	opsHistory(t, s)
	want := []Op{OpCreate, OpUpdate, OpDelete, OpCreate, OpUpdate, OpTruncate, OpCreate, OpUpdate}
	check := func(t *testing.T, s *Store) {
		vs, err := s.History(testID(1))
		if err != nil {
			t.Fatal(err)
		}
		var got []Op
		for _, v := range vs {
			got = append(got, v.Op)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("ops: got %v, want %v", got, want)
		}
	}
	t.Run("fresh", func(t *testing.T) { check(t, s) })
	// The truncate flag is stored, not remembered by the process.
	t.Run("after reopen", func(t *testing.T) { check(t, reopen(t, s)) })
}

// A truncate written before flagTruncated existed has only flagDeleted.
func TestLegacyTruncateReadsAsDelete(t *testing.T) {
	src := Source{Topic: testTopic, LSN: 5, TsMs: 9}
	for _, tc := range []struct {
		name      string
		truncated bool
		want      Op
	}{
		{"without the flag", false, OpDelete},
		{"with the flag", true, OpTruncate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeVersion(appendValue(nil, true, tc.truncated, nil, &src, 9))
			if err != nil {
				t.Fatal(err)
			}
			if !v.Deleted || v.Op != tc.want {
				t.Fatalf("got deleted=%v op %v, want deleted op %v", v.Deleted, v.Op, tc.want)
			}
		})
	}
}

func TestVersionAt(t *testing.T) {
	s := newTestStore(t)
	opsHistory(t, s)
	for _, tc := range []struct {
		name    string
		row     int
		at      int64
		wantAt  At
		wantSeq uint64
		wantOp  Op
	}{
		{"before first version", 1, 99, AtBefore, 0, OpCreate},
		{"exactly at valid_from of the first", 1, 100, AtValid, 0, OpCreate},
		{"between create and update", 1, 199, AtValid, 0, OpCreate},
		{"exactly at the update", 1, 200, AtValid, 1, OpUpdate},
		{"exactly at the delete", 1, 300, AtValid, 2, OpDelete},
		{"after the delete", 1, 399, AtValid, 2, OpDelete},
		{"re-created", 1, 400, AtValid, 3, OpCreate},
		{"at the truncate", 1, 600, AtValid, 5, OpTruncate},
		{"two versions at one time: the later", 1, 700, AtValid, 7, OpUpdate},
		{"far future", 1, 1 << 62, AtValid, 7, OpUpdate},
		{"unknown id", 9, 100, AtUnknown, 0, OpUpdate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, at, err := s.VersionAt(testID(tc.row), tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if at != tc.wantAt || v.Seq != tc.wantSeq || (at != AtUnknown && v.Op != tc.wantOp) {
				t.Fatalf("got at=%d seq=%d op=%v, want at=%d seq=%d op=%v", at, v.Seq, v.Op, tc.wantAt, tc.wantSeq, tc.wantOp)
			}
			if at == AtUnknown {
				return
			}
			if wantDel := tc.wantOp == OpDelete || tc.wantOp == OpTruncate; v.Deleted != wantDel {
				t.Fatalf("deleted: got %v, want %v", v.Deleted, wantDel)
			}
			// The join's in-memory answer agrees on every live version.
			l, ok := s.AsOf(testID(tc.row), tc.at)
			if ok == v.Deleted || (ok && l.LengthSeconds != v.Row.LengthSeconds) {
				t.Fatalf("AsOf disagrees: ok=%v length %v, VersionAt deleted=%v length %v", ok, l.LengthSeconds, v.Deleted, v.Row.LengthSeconds)
			}
		})
	}
}

func named(n int, slug, title string) Change {
	c := upsert(n, int64(n), int64(n))
	c.Row.Slug, c.Row.Title = slug, title
	return c
}

func TestSearch(t *testing.T) {
	s := newTestStore(t)
	mustApply(t, s, batchOf(
		named(1, "hello-world", "Greeting"),
		named(2, "other", "Hello There"),
		named(3, "unicode", "Ünïcode Straße"),
		named(4, "hello-deleted", "gone"),
		named(5, "kelvin", "Kelvin scale"),
		named(6, "HELLO-upper", "x"),
		named(7, "say-hello", "not a prefix: hello"),
	))
	mustApply(t, s, batchOf(del(4, 100, 100)))
	for _, tc := range []struct {
		name, prefix string
		want         []int
	}{
		{"case-insensitive on slug and title", "hElLo", []int{1, 2, 6}},
		{"non-ASCII prefix, other case", "üNÏ", []int{3}},
		{"fold across byte lengths (Kelvin sign)", "\u212Aelvin", []int{5}},
		{"deleted rows absent", "hello-d", nil},
		{"middle of a word is no prefix", "ello", nil},
		{"matches nothing", "zzz", nil},
		{"empty prefix: every live row", "", []int{1, 2, 3, 5, 6, 7}},
		{"script tag", "<script>", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, next, err := s.Search(tc.prefix, uuid.Nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			if next != uuid.Nil {
				t.Errorf("next: got %s, want none", next)
			}
			if got := recRows(recs); !slices.Equal(got, tc.want) {
				t.Fatalf("got rows %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("pages by limit", func(t *testing.T) {
		var got []int
		after := uuid.Nil
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatal("paging does not end")
			}
			recs, next, err := s.Search("HELLO", after, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, recRows(recs)...)
			if next == uuid.Nil {
				break
			}
			after = next
		}
		if want := []int{1, 2, 6}; !slices.Equal(got, want) {
			t.Fatalf("got rows %v, want %v", got, want)
		}
	})

	t.Run("scan limit returns where to continue", func(t *testing.T) {
		recs, next, err := s.search("kel", uuid.Nil, 100, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 0 || next != testID(2) {
			t.Fatalf("first call: got rows %v next %s, want none and next row 2", recRows(recs), next)
		}
		recs, next, err = s.search("kel", next, 100, 3) // rows 3, 4 (deleted), 5
		if err != nil {
			t.Fatal(err)
		}
		if got := recRows(recs); !slices.Equal(got, []int{5}) || next != testID(5) {
			t.Fatalf("second call: got rows %v next %s, want [5] and next row 5", got, next)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		if _, _, err := s.Search("x", uuid.Nil, 0); err == nil {
			t.Error("limit 0: got no error")
		}
		if _, _, err := s.Search("\xff", uuid.Nil, 1); err == nil {
			t.Error("invalid utf-8: got no error")
		}
	})
}

// recRows maps records back to the n of testID(n).
func recRows(recs []Record) []int {
	var out []int
	for _, r := range recs {
		for n := 0; n < 100; n++ {
			if testID(n) == r.ID {
				out = append(out, n)
			}
		}
	}
	return out
}

func TestHasPrefixFold(t *testing.T) {
	for _, tc := range []struct {
		name, s, prefix string
		want            bool
	}{
		{"ASCII, other case", "Hello", "hELL", true},
		{"Kelvin sign in the prefix", "kelvin", "\u212Aelvin", true},
		{"Kelvin sign in the value", "\u212Aelvin", "KEL", true},
		{"long s folds to s", "\u017Fun", "SUN", true},
		{"Greek final sigma", "ΣΟΦΙΑ", "σοφ", true},
		{"Arabic has no case", "الشاهد: ريادة", "الشاهد", true},
		{"prefix longer than the value", "ab", "abc", false},
		{"different letter", "abd", "abc", false},
		{"empty prefix", "x", "", true},
		{"invalid utf-8 in the value", "\xffabc", "a", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasPrefixFold([]byte(tc.s), tc.prefix); got != tc.want {
				t.Fatalf("hasPrefixFold(%q, %q): got %v, want %v", tc.s, tc.prefix, got, tc.want)
			}
		})
	}
}
