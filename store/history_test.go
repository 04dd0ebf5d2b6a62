package store

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

func TestAsOf(t *testing.T) {
	s := newTestStore(t)
	b := batchOf(
		upsert(1, 10, 100), // length 10 from 100
		upsert(1, 20, 200), // length 20 from 200
		del(1, 30, 300),
		upsert(1, 40, 400), // re-created
	)
	b.Truncate(Source{Topic: testTopic, LSN: 50, TsMs: 500})
	b.Put(upsert(2, 60, 600)) // after the truncate
	mustApply(t, s, b)

	tests := []struct {
		name string
		row  int
		at   int64
		want int32 // length; -1 means not found
	}{
		{"before history takes the first version", 1, 50, 10},
		{"at first version", 1, 100, 10},
		{"between versions", 1, 150, 10},
		{"at update", 1, 200, 20},
		{"just before delete", 1, 299, 20},
		{"at delete", 1, 300, -1},
		{"while deleted", 1, 399, -1},
		{"re-created", 1, 400, 40},
		{"just before truncate", 1, 499, 40},
		{"at truncate", 1, 500, -1},
		{"long after truncate", 1, 1e12, -1},
		{"row created after truncate, before its time", 2, 100, 60},
		{"row created after truncate", 2, 600, 60},
		{"unknown id", 3, 600, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := int32(-1)
			if l, ok := s.AsOf(testID(tt.row), tt.at); ok {
				got = l.LengthSeconds.Int32
			}
			if got != tt.want {
				t.Errorf("AsOf(row %d, %d): got length %d, want %d", tt.row, tt.at, got, tt.want)
			}
		})
	}
	if _, ok := s.Current(testID(1)); ok {
		t.Errorf("Current(row 1) after truncate: got live, want absent")
	}
	if got := lengthOf(s, 2); got != 60 {
		t.Errorf("Current(row 2): got length %d, want 60", got)
	}
}

func TestAsOfLookupFields(t *testing.T) {
	s := newTestStore(t)
	c := upsert(1, 10, 100)
	c.Row.ContentType = sql.NullString{}
	c.Row.LengthSeconds = sql.NullInt32{Int32: 0, Valid: true}
	mustApply(t, s, batchOf(c))
	got, ok := s.AsOf(testID(1), 100)
	want := Lookup{LengthSeconds: sql.NullInt32{Valid: true}, ValidFromMs: 100, LSN: 10}
	if !ok || got != want {
		t.Errorf("AsOf: got %+v %v, want %+v true", got, ok, want)
	}
}

// A commit time lower than the previous version's is clamped, so a lookup
// never lands on an older version after a newer one took effect.
func TestValidFromNeverDecreases(t *testing.T) {
	s := newTestStore(t)
	mustApply(t, s, batchOf(upsert(1, 10, 200), upsert(1, 11, 150), del(1, 12, 100)))
	h := mustHistory(t, s, 1)
	var got []int64
	for _, v := range h {
		got = append(got, v.ValidFromMs)
	}
	want := []int64{200, 200, 200}
	if !equalInts(got, want) {
		t.Errorf("valid-from: got %v, want %v", got, want)
	}
	if h[1].Source.TsMs != 150 {
		t.Errorf("source ts: got %d, want the original 150", h[1].Source.TsMs)
	}
	if _, ok := s.AsOf(testID(1), 200); ok {
		t.Errorf("AsOf(200): got live, want the delete (last version valid at 200)")
	}
}

func TestTruncate(t *testing.T) {
	trunc := Source{Topic: testTopic, LSN: 50, TsMs: 500}
	tests := []struct {
		name    string
		after   []Change // applied after the truncate, in a later batch
		again   bool     // the truncate is re-delivered
		want    ApplyStats
		wantLen int
	}{
		{name: "pre-truncate change is stale", after: []Change{upsert(1, 40, 400)}, want: ApplyStats{Stale: 1}},
		{name: "pre-truncate new row is stale", after: []Change{upsert(9, 45, 450)}, want: ApplyStats{Stale: 1}},
		{name: "post-truncate change applies", after: []Change{upsert(1, 60, 600)}, want: ApplyStats{Applied: 1}, wantLen: 1},
		{name: "unknown lsn applies", after: []Change{upsert(1, 0, 600)}, want: ApplyStats{Applied: 1}, wantLen: 1},
		{name: "re-delivered truncate is stale", again: true, want: ApplyStats{Stale: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			mustApply(t, s, batchOf(upsert(1, 10, 100), upsert(2, 20, 200)))
			var b Batch
			b.Truncate(trunc)
			if got := mustApply(t, s, &b); got != (ApplyStats{Applied: 1}) {
				t.Errorf("truncate: got %+v, want 1 applied", got)
			}
			if got := s.Len(); got != 0 {
				t.Errorf("Len after truncate: got %d, want 0", got)
			}
			if got := s.TruncateLSN(); got != 50 {
				t.Errorf("watermark: got %d, want 50", got)
			}
			b.Reset()
			for _, c := range tt.after {
				b.Put(c)
			}
			if tt.again {
				b.Truncate(trunc)
			}
			if got := mustApply(t, s, &b); got != tt.want {
				t.Errorf("after: got %+v, want %+v", got, tt.want)
			}
			if got := s.Len(); got != tt.wantLen {
				t.Errorf("Len: got %d, want %d", got, tt.wantLen)
			}
			if l, ok := s.AsOf(testID(2), 300); !ok || l.LSN != 20 {
				t.Errorf("AsOf before truncate: got %+v %v, want LSN 20", l, ok)
			}
		})
	}
}

// A change committed after the truncate but consumed before it (another
// partition) survives it.
func TestTruncateSparesLaterChanges(t *testing.T) {
	s := newTestStore(t)
	b := batchOf(upsert(1, 10, 100), upsert(2, 70, 700))
	b.Truncate(Source{Topic: testTopic, LSN: 50, TsMs: 500})
	mustApply(t, s, b)
	if got := lengthOf(s, 1); got != -1 {
		t.Errorf("row 1: got length %d, want deleted", got)
	}
	if got := lengthOf(s, 2); got != 70 {
		t.Errorf("row 2: got length %d, want 70", got)
	}
}

func TestTruncateEmptyWithoutLSNIsNoop(t *testing.T) {
	s := newTestStore(t)
	var b Batch
	b.Truncate(Source{TsMs: 1})
	if got := mustApply(t, s, &b); got != (ApplyStats{Noop: 1}) {
		t.Errorf("got %+v, want 1 noop", got)
	}
}

// A truncate larger than a transaction is resumed; a crash part way leaves
// the watermark and the offset behind, so the re-delivered truncate finishes.
func TestTruncateSplit(t *testing.T) {
	s := newTestStore(t)
	var b Batch
	for i := range 5 {
		b.Put(upsert(i, int64(i+1), 100))
	}
	b.Advance(testTP, 5)
	mustApply(t, s, &b)

	b.Reset()
	b.Truncate(Source{Topic: testTopic, LSN: 10, TsMs: 500})
	b.Advance(testTP, 6)
	s.maxTxnWrites = 2
	s.beforeCommit = func(n int) error {
		if n == 1 {
			return errTest
		}
		return nil
	}
	if _, err := s.Apply(&b); err == nil {
		t.Fatal("apply: got nil error, want the simulated crash")
	}
	s = reopen(t, s)
	if got := s.Len(); got != 3 {
		t.Errorf("rows after crash: got %d, want 3", got)
	}
	if got := s.TruncateLSN(); got != 0 {
		t.Errorf("watermark after crash: got %d, want 0", got)
	}
	if got := s.Offsets()[testTP]; got != 5 {
		t.Errorf("offset after crash: got %d, want 5", got)
	}
	s.maxTxnWrites = 2
	if got := mustApply(t, s, &b); got != (ApplyStats{Applied: 1}) {
		t.Errorf("re-applied truncate: got %+v, want 1 applied", got)
	}
	s = reopen(t, s)
	if got := s.Len(); got != 0 {
		t.Errorf("rows: got %d, want 0", got)
	}
	if got := s.TruncateLSN(); got != 10 {
		t.Errorf("watermark: got %d, want 10", got)
	}
	if got := s.Offsets()[testTP]; got != 6 {
		t.Errorf("offset: got %d, want 6", got)
	}
}

func TestToastKeep(t *testing.T) {
	base := upsert(1, 10, 100)
	base.Row.Title = "stored title"
	base.Row.Slug = "stored-slug"
	toasted := func(keep Columns) Change {
		c := upsert(1, 20, 200)
		c.Row.Title = "__debezium_unavailable_value"
		c.Row.Slug = "__debezium_unavailable_value"
		c.Row.ContentType = sql.NullString{String: "__debezium_unavailable_value", Valid: true}
		c.Keep = keep
		return c
	}
	tests := []struct {
		name      string
		first     []Change // separate batch, read back from Badger
		same      []Change // same batch as the toasted change
		restart   bool
		keep      Columns
		wantTitle string
		wantSlug  string
		wantCT    string
	}{
		{name: "title from stored row", first: []Change{base}, keep: ColTitle, wantTitle: "stored title", wantSlug: "__debezium_unavailable_value", wantCT: "__debezium_unavailable_value"},
		{name: "all columns", first: []Change{base}, keep: ColTitle | ColSlug | ColContentType, wantTitle: "stored title", wantSlug: "stored-slug", wantCT: "podcast"},
		{name: "after restart", first: []Change{base}, restart: true, keep: ColSlug, wantTitle: "__debezium_unavailable_value", wantSlug: "stored-slug", wantCT: "__debezium_unavailable_value"},
		{name: "from same batch", same: []Change{base}, keep: ColTitle | ColContentType, wantTitle: "stored title", wantSlug: "__debezium_unavailable_value", wantCT: "podcast"},
		{name: "no stored row keeps the change", keep: ColTitle, wantTitle: "__debezium_unavailable_value", wantSlug: "__debezium_unavailable_value", wantCT: "__debezium_unavailable_value"},
		{name: "deleted row keeps the change", first: []Change{base, del(1, 15, 150)}, keep: ColTitle, wantTitle: "__debezium_unavailable_value", wantSlug: "__debezium_unavailable_value", wantCT: "__debezium_unavailable_value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			if tt.first != nil {
				mustApply(t, s, batchOf(tt.first...))
			}
			if tt.restart {
				s = reopen(t, s)
			}
			mustApply(t, s, batchOf(append(tt.same, toasted(tt.keep))...))
			rec, ok, err := s.Get(testID(1))
			if err != nil || !ok {
				t.Fatalf("get: got %v %v, want the row", ok, err)
			}
			if rec.Row.Title != tt.wantTitle || rec.Row.Slug != tt.wantSlug || rec.Row.ContentType.String != tt.wantCT {
				t.Errorf("row: got title %q slug %q type %q, want %q %q %q",
					rec.Row.Title, rec.Row.Slug, rec.Row.ContentType.String, tt.wantTitle, tt.wantSlug, tt.wantCT)
			}
			if l, _ := s.Current(testID(1)); l.ContentType.String != tt.wantCT {
				t.Errorf("memory content type: got %q, want %q", l.ContentType.String, tt.wantCT)
			}
		})
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTruncateOrderWithoutLSN: on a multi-partition topic a truncate may be
// read before or after changes from other partitions. For changes without an
// LSN (flattened forms) the commit time orders them against the truncate, so
// both reading orders end in the same view.
func TestTruncateOrderWithoutLSN(t *testing.T) {
	noLSN := func(c Change) Change { c.Source.LSN = 0; return c }
	before := noLSN(upsert(1, 100, 1000)) // committed before the truncate
	after := noLSN(upsert(2, 300, 3000))  // committed after it
	trunc := Source{Topic: testTopic, Partition: 1, LSN: 200, TsMs: 2000}
	for _, tc := range []struct {
		name  string
		order func(b *Batch)
	}{
		{"truncate read last", func(b *Batch) { b.Put(before); b.Put(after); b.Truncate(trunc) }},
		{"truncate read first", func(b *Batch) { b.Truncate(trunc); b.Put(before); b.Put(after) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			var b Batch
			tc.order(&b)
			if _, err := s.Apply(&b); err != nil {
				t.Fatal(err)
			}
			if _, ok := s.Current(testID(1)); ok {
				t.Errorf("row committed before the truncate: got live, want deleted")
			}
			if _, ok := s.Current(testID(2)); !ok {
				t.Errorf("row committed after the truncate: got deleted, want live")
			}
			s = reopen(t, s)
			var b2 Batch
			b2.Put(noLSN(upsert(1, 150, 1500))) // re-delivered pre-truncate change
			if _, err := s.Apply(&b2); err != nil {
				t.Fatal(err)
			}
			if _, ok := s.Current(testID(1)); ok {
				t.Errorf("after restart, a pre-truncate change resurrected the row")
			}
		})
	}
}

// TestOpenAfterEmptyLogFile: a process killed between Badger creating a WAL
// or value log file and sizing it leaves an empty file; Open must still work
// and keep what was committed (dgraph-io/badger#2207).
func TestOpenAfterEmptyLogFile(t *testing.T) {
	for _, name := range []string{"00099.mem", "000099.vlog"} {
		t.Run(name, func(t *testing.T) {
			s := newTestStore(t)
			if _, err := s.Apply(batchOf(upsert(1, 8, 1000))); err != nil {
				t.Fatal(err)
			}
			dir := s.dir
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			s2 := openTestStore(t, Options{Dir: dir})
			if _, ok := s2.Current(testID(1)); !ok {
				t.Fatal("row lost after reopening past an empty log file")
			}
		})
	}
}
