package store

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestGet(t *testing.T) {
	s := newTestStore(t)
	mustApply(t, s, batchOf(upsert(1, 10, 100), upsert(1, 11, 110), upsert(2, 20, 200), del(2, 21, 210)))
	tests := []struct {
		name    string
		row     int
		wantOK  bool
		wantLSN int64
	}{
		{name: "latest version", row: 1, wantOK: true, wantLSN: 11},
		{name: "deleted row", row: 2},
		{name: "unknown row", row: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, ok, err := s.Get(testID(tt.row))
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if ok != tt.wantOK {
				t.Fatalf("found: got %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			want := Record{ID: testID(tt.row), Row: upsert(tt.row, tt.wantLSN, 110).Row, Source: upsert(tt.row, tt.wantLSN, 110).Source}
			if !reflect.DeepEqual(rec, want) {
				t.Errorf("record: got %+v, want %+v", rec, want)
			}
		})
	}
}

func TestList(t *testing.T) {
	s := newTestStore(t)
	var b Batch
	for i := 9; i >= 0; i-- { // applied out of id order
		b.Put(upsert(i, int64(100+i), 100))
		b.Put(upsert(i, int64(200+i), 200))
	}
	b.Put(del(3, 300, 300))
	b.Put(del(7, 307, 300))
	mustApply(t, s, &b)

	tests := []struct {
		name  string
		after uuid.UUID
		limit int
		want  []int
	}{
		{name: "first page", after: uuid.Nil, limit: 3, want: []int{0, 1, 2}},
		{name: "skips deleted", after: testID(2), limit: 3, want: []int{4, 5, 6}},
		{name: "after a deleted id", after: testID(3), limit: 2, want: []int{4, 5}},
		{name: "last page is short", after: testID(6), limit: 5, want: []int{8, 9}},
		{name: "past the end", after: testID(9), limit: 5, want: nil},
		{name: "everything", after: uuid.Nil, limit: 100, want: []int{0, 1, 2, 4, 5, 6, 8, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.List(tt.after, tt.limit)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			var got []int
			for _, r := range recs {
				got = append(got, idNum(r.ID))
				if r.Source.LSN != int64(200+idNum(r.ID)) {
					t.Errorf("row %d: got LSN %d, want the latest %d", idNum(r.ID), r.Source.LSN, 200+idNum(r.ID))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ids: got %v, want %v", got, tt.want)
			}
		})
	}

	// Paging through yields every live row once, in order.
	var all []int
	for after := uuid.Nil; ; {
		recs, err := s.List(after, 3)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			all = append(all, idNum(r.ID))
		}
		after = recs[len(recs)-1].ID
	}
	if want := []int{0, 1, 2, 4, 5, 6, 8, 9}; !reflect.DeepEqual(all, want) {
		t.Errorf("paged: got %v, want %v", all, want)
	}
	if _, err := s.List(uuid.Nil, 0); err == nil {
		t.Errorf("limit 0: got nil error, want one")
	}
}

func TestRestartRestoresView(t *testing.T) {
	s := newTestStore(t)
	var b Batch
	for i := range 50 {
		b.Put(upsert(i, int64(1+i), int64(100+i)))
	}
	b.Advance(testTP, 50)
	mustApply(t, s, &b)
	b.Reset()
	for i := 0; i < 50; i += 3 {
		b.Put(upsert(i, int64(100+i), int64(1000+i)))
	}
	b.Truncate(Source{Topic: testTopic, LSN: 200, TsMs: 2000})
	for i := 0; i < 50; i += 5 {
		b.Put(upsert(i, int64(300+i), int64(3000+i)))
	}
	b.Put(del(10, 400, 4000))
	b.Advance(testTP, 120)
	b.Advance(TopicPartition{Topic: testTopic, Partition: 1}, 9)
	mustApply(t, s, &b)

	before := snapshot(t, s)
	s = reopen(t, s)
	after := snapshot(t, s)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("view after restart differs:\n got %+v\nwant %+v", after, before)
	}
	// Sequences continue: a new version lands after the restored ones.
	mustApply(t, s, batchOf(upsert(0, 500, 5000)))
	h := mustHistory(t, s, 0)
	if got, want := h[len(h)-1].Seq, uint64(len(h)-1); got != want {
		t.Errorf("next sequence: got %d, want %d", got, want)
	}
}

type view struct {
	Len      int
	Offsets  map[TopicPartition]int64
	TruncLSN int64
	Rows     map[int][]Lookup // Current then AsOf at a few times
	History  map[int][]Version
}

func snapshot(t *testing.T, s *Store) view {
	v := view{Len: s.Len(), Offsets: s.Offsets(), TruncLSN: s.TruncateLSN(), Rows: map[int][]Lookup{}, History: map[int][]Version{}}
	for i := range 50 {
		var ls []Lookup
		l, _ := s.Current(testID(i))
		ls = append(ls, l)
		for _, at := range []int64{0, 500, 1500, 2500, 3500, 4500} {
			l, _ := s.AsOf(testID(i), at)
			ls = append(ls, l)
		}
		v.Rows[i] = ls
		v.History[i] = mustHistory(t, s, i)
	}
	return v
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(t *testing.T) Options
		wantErr string
	}{
		{name: "empty dir", opts: func(*testing.T) Options { return Options{} }, wantErr: "empty dir"},
		{name: "negative retention", opts: func(t *testing.T) Options { return Options{Dir: t.TempDir(), HistoryRetention: -1} }, wantErr: "negative"},
		{name: "dir is a file", opts: func(t *testing.T) Options {
			f := filepath.Join(t.TempDir(), "file")
			writeFile(t, f, "x")
			return Options{Dir: f}
		}, wantErr: "open store"},
		{name: "garbage manifest", opts: func(t *testing.T) Options {
			dir := populatedDir(t)
			writeFile(t, filepath.Join(dir, "MANIFEST"), strings.Repeat("garbage!", 64))
			return Options{Dir: dir}
		}, wantErr: "open store"},
		{name: "garbage table", opts: func(t *testing.T) Options {
			dir := populatedDir(t)
			corruptMiddle(t, firstTable(t, dir))
			return Options{Dir: dir}
		}, wantErr: "open store"},
		{name: "truncated table", opts: func(t *testing.T) Options {
			dir := populatedDir(t)
			truncateFile(t, firstTable(t, dir), 1000)
			return Options{Dir: dir}
		}, wantErr: "corrupt"},
		{name: "empty table", opts: func(t *testing.T) Options {
			dir := populatedDir(t)
			truncateFile(t, firstTable(t, dir), 0)
			return Options{Dir: dir}
		}, wantErr: "corrupt"},
		{name: "missing table", opts: func(t *testing.T) Options {
			dir := populatedDir(t)
			if err := os.Remove(firstTable(t, dir)); err != nil {
				t.Fatal(err)
			}
			return Options{Dir: dir}
		}, wantErr: "does not exist"},
		{name: "garbage key registry", opts: func(t *testing.T) Options {
			dir := populatedDir(t)
			writeFile(t, filepath.Join(dir, "KEYREGISTRY"), "garbage")
			return Options{Dir: dir}
		}, wantErr: "open store"},
		{name: "foreign key", opts: func(t *testing.T) Options {
			return Options{Dir: rawDir(t, []byte("x"), []byte("y"))}
		}, wantErr: "format marker"},
		{name: "corrupt version value", opts: func(t *testing.T) Options {
			return Options{Dir: rawDir(t, appendVersionKey(nil, testID(1), 0), []byte{formatVersion, 0, 0x80})}
		}, wantErr: "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts(t)
			s, err := Open(opts)
			if err == nil {
				s.Close()
				t.Fatalf("open: got nil error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("open: got %q, want it to contain %q", err, tt.wantErr)
			}
			if opts.Dir != "" && !strings.Contains(err.Error(), opts.Dir) {
				t.Errorf("open: got %q, want it to name %s", err, opts.Dir)
			}
		})
	}
}

// populatedDir returns a closed store's directory holding a flushed table.
func populatedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for i := range 2000 {
		b.Put(upsert(i, int64(i+1), 1))
	}
	mustApply(t, s, &b)
	if err := s.db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rawDir writes one key straight into Badger, with the format marker when
// the key is a version.
func rawDir(t *testing.T, k, v []byte) string {
	t.Helper()
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *badger.Txn) error {
		if k[0] == prefixVersion {
			if err := txn.Set(keyFormat, []byte{formatVersion}); err != nil {
				return err
			}
		}
		return txn.Set(k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func firstTable(t *testing.T, dir string) string {
	t.Helper()
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no table written")
	}
	return ssts[0]
}

func truncateFile(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func corruptMiddle(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 4; i < len(b)*3/4; i++ {
		b[i] ^= 0x5a
	}
	writeFile(t, path, string(b))
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDefaults(t *testing.T) {
	s := newTestStore(t)
	if s.retention != DefaultHistoryRetention {
		t.Errorf("retention: got %v, want %v", s.retention, DefaultHistoryRetention)
	}
	if s.log == nil {
		t.Errorf("logger: got nil, want a no-op logger")
	}
}

// The join calls these per event: they must not allocate.
func TestLookupsDoNotAllocate(t *testing.T) {
	s := newTestStore(t)
	mustApply(t, s, batchOf(upsert(1, 10, 100), upsert(1, 20, 200), upsert(1, 30, 300)))
	id := testID(1)
	tests := []struct {
		name string
		f    func()
	}{
		{"Current", func() { s.Current(id) }},
		{"AsOf latest", func() { s.AsOf(id, 1000) }},
		{"AsOf history", func() { s.AsOf(id, 150) }},
		{"AsOf unknown", func() { s.AsOf(testID(2), 150) }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, tt.f); got != 0 {
			t.Errorf("%s: got %v allocs, want 0", tt.name, got)
		}
	}
}

func TestOffsetsIsACopy(t *testing.T) {
	s := newTestStore(t)
	var b Batch
	b.Advance(testTP, 5)
	mustApply(t, s, &b)
	s.Offsets()[testTP] = 99
	if got := s.Offsets()[testTP]; got != 5 {
		t.Errorf("offset: got %d, want 5", got)
	}
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	openTestStore(t, Options{Dir: dir})
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("dir: got %v, want it created", err)
	}
}

// Readers run against the single writer; run with -race.
func TestConcurrentReaders(t *testing.T) {
	s := newTestStore(t)
	const rows = 200
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := testID(i % rows)
				s.Current(id)
				if l, ok := s.AsOf(id, int64(i%20)); ok && l.LSN == 0 {
					t.Errorf("AsOf(%v): got a version without LSN", id)
				}
				s.Len()
				s.Offsets()
			}
		})
	}
	var b Batch
	for round := range 20 {
		b.Reset()
		for i := range rows {
			b.Put(upsert(i, int64(round*rows+i+1), int64(round)))
		}
		b.Advance(testTP, int64(round))
		mustApply(t, s, &b)
		if round%5 == 4 {
			if _, err := s.Prune(time.UnixMilli(int64(round)).Add(s.retention)); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if got := s.Len(); got != rows {
		t.Errorf("Len: got %d, want %d", got, rows)
	}
}

func TestOpenLogsSummary(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	mustApply(t, s, batchOf(upsert(1, 1, 1), upsert(1, 2, 2), upsert(2, 3, 3)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	openTestStore(t, Options{Dir: dir, Logger: zap.New(core)})
	entries := logs.FilterMessage("store opened").All()
	if len(entries) != 1 {
		t.Fatalf("log entries: got %d, want 1", len(entries))
	}
	f := entries[0].ContextMap()
	if f["rows"] != int64(2) || f["versions"] != int64(3) {
		t.Errorf("fields: got rows %v versions %v, want 2 and 3", f["rows"], f["versions"])
	}
}

func TestBadgerLogger(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := badgerLogger{zap.New(core)}
	l.Errorf("bad %d\n", 1)
	l.Warningf("careful %s", "now")
	l.Infof("chatter")
	l.Debugf("chatter")
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Level.String()+":"+e.Message)
	}
	if want := []string{"error:bad 1", "warn:careful now"}; !reflect.DeepEqual(got, want) {
		t.Errorf("logged: got %v, want %v", got, want)
	}
}

func idNum(id uuid.UUID) int {
	n := 0
	for _, c := range id[8:] {
		n = n<<8 | int(c)
	}
	return n
}
