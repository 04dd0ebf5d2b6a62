package store

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestIndexHoldsNoPointers: the garbage collector skips memory whose type
// has no pointers; one field of pointer type in the index would make it scan
// every row again.
func TestIndexHoldsNoPointers(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[uuid.UUID](), reflect.TypeFor[entry](), reflect.TypeFor[version](), reflect.TypeFor[verKey](),
	} {
		if path := pointerIn(typ, typ.Name()); path != "" {
			t.Errorf("%s holds a pointer at %s", typ, path)
		}
	}
}

// pointerIn returns the path to a pointer-holding part of typ, or "".
func pointerIn(typ reflect.Type, path string) string {
	switch typ.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return ""
	case reflect.Array:
		return pointerIn(typ.Elem(), path+"[]")
	case reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			if p := pointerIn(f.Type, path+"."+f.Name); p != "" {
				return p
			}
		}
		return ""
	default:
		return path + " (" + typ.Kind().String() + ")"
	}
}

// TestHistoryArena drives a shard's histories at random (appends of one or
// more versions, dropped prefixes, removed rows) against a plain model.
func TestHistoryArena(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var sh shard
	sh.m = map[uuid.UUID]entry{}
	model := map[uuid.UUID][]version{}
	var (
		clock int64
		peak  [maxClass + 1]int // most runs of each class in use at once
	)
	newVersion := func() version {
		clock++
		return version{validFrom: clock, lsn: clock, length: int32(clock)}
	}
	ids := make([]uuid.UUID, 50)
	for i := range ids {
		ids[i] = testID(i)
	}
	for step := range 20_000 {
		id := ids[r.IntN(len(ids))]
		e, ok := sh.m[id]
		switch op := r.IntN(10); {
		case op < 6 || !ok: // append, more often than the rest so histories grow
			vs := make([]version, 1+r.IntN(4))
			for i := range vs {
				vs[i] = newVersion()
			}
			sh.extend(&e, vs)
			sh.m[id] = e
			model[id] = append(model[id], vs...)
		case op < 9 && e.n > 1:
			c := 1 + uint32(r.IntN(int(e.n-1)))
			sh.dropPrefix(id, &e, c)
			sh.m[id] = e
			model[id] = model[id][c:]
		default:
			sh.remove(id, &e)
			delete(model, id)
		}
		if err := checkHistories(&sh, model); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		var runs [maxClass + 1]int
		for _, vs := range model {
			if len(vs) > 1 {
				runs[classOf(uint32(len(vs)-1))]++
			}
		}
		for c := range runs {
			peak[c] = max(peak[c], runs[c])
		}
	}
	// Freed runs are reused by their class: the arena only grows when every
	// run of a class is in use, so it is exactly the peak of each class.
	var want int
	for c, n := range peak {
		want += n << c
	}
	if len(sh.hist) != want {
		t.Errorf("arena of %d slots, want %d (the peak runs of each class)", len(sh.hist), want)
	}
}

func checkHistories(sh *shard, model map[uuid.UUID][]version) error {
	if len(sh.m) != len(model) {
		return fmt.Errorf("rows: got %d, want %d", len(sh.m), len(model))
	}
	for id, want := range model {
		e, ok := sh.m[id]
		if !ok || int(e.n) != len(want) {
			return fmt.Errorf("row %s: got %d versions (present %v), want %d", id, e.n, ok, len(want))
		}
		for i := range e.n {
			if got := *sh.at(&e, i); got != want[i] {
				return fmt.Errorf("row %s version %d: got %+v, want %+v", id, i, got, want[i])
			}
		}
		if got := sh.older(&e); len(got) != len(want)-1 {
			return fmt.Errorf("row %s: %d older versions, want %d", id, len(got), len(want)-1)
		}
	}
	return nil
}

// TestManyContentTypes: past the type table's bound, content types are kept
// per version; lookups, history, restarts and pruning work the same.
func TestManyContentTypes(t *testing.T) {
	s := openTestStore(t, Options{Dir: t.TempDir(), HistoryRetention: time.Hour})
	const rows = maxTypes + 50
	typeOf := func(n, v int) string { return fmt.Sprintf("type-%d-%d", n, v) }
	withType := func(n, v int, ts int64) Change {
		c := upsert(n, int64(2*n+v+1), ts)
		c.Row.ContentType = sql.NullString{String: typeOf(n, v), Valid: true}
		return c
	}
	var b Batch
	for n := range rows {
		b.Put(withType(n, 0, 1_000))
	}
	mustApply(t, s, &b)
	b.Reset()
	for n := range rows {
		b.Put(withType(n, 1, 2_000))
	}
	mustApply(t, s, &b)

	check := func(s *Store, when string, oldKept bool) {
		t.Helper()
		for n := range rows {
			if l, ok := s.Current(testID(n)); !ok || l.ContentType.String != typeOf(n, 1) {
				t.Fatalf("%s: row %d current: got %q (%v), want %q", when, n, l.ContentType.String, ok, typeOf(n, 1))
			}
			want := typeOf(n, 0)
			if !oldKept {
				want = typeOf(n, 1)
			}
			if l, ok := s.AsOf(testID(n), 1_500); !ok || l.ContentType.String != want {
				t.Fatalf("%s: row %d as of 1500: got %q (%v), want %q", when, n, l.ContentType.String, ok, want)
			}
		}
	}
	check(s, "applied", true)
	s = reopen(t, s)
	check(s, "reopened", true)

	if _, err := s.Prune(time.UnixMilli(2_000 + 2*3_600_000)); err != nil {
		t.Fatalf("prune: %v", err)
	}
	check(s, "pruned", false)
	// Every version flagged odd has its text, and no other text is kept.
	var odd, flagged int
	for i := range s.shards {
		sh := &s.shards[i]
		odd += len(sh.odd)
		for _, e := range sh.m {
			for j := range e.n {
				if sh.at(&e, j).flags&flagOddType != 0 {
					flagged++
				}
			}
		}
	}
	if odd != flagged || odd == 0 {
		t.Errorf("odd content types after prune: %d kept, %d versions need one", odd, flagged)
	}
}

// TestLookupsDuringApply: readers see whole versions while the writer grows
// histories (moving runs and the arena), runs out of type slots and prunes.
// Run with -race, it also checks the locking.
func TestLookupsDuringApply(t *testing.T) {
	const (
		rows   = 100
		rounds = maxTypes + 44 // past the type table's bound
		step   = 60_000        // ms between rounds
	)
	s := openTestStore(t, Options{Dir: t.TempDir(), HistoryRetention: 50 * step * time.Millisecond})
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		r := rand.New(rand.NewPCG(7, 8))
		for {
			select {
			case <-done:
				return
			default:
			}
			id := testID(r.IntN(rows))
			l, ok := s.AsOf(id, int64(r.IntN(rounds*step)))
			if !ok {
				l, ok = s.Current(id)
			}
			// Version k of every row has length k, type "type-k", valid from k*step.
			k := l.LengthSeconds.Int32
			if ok && (l.ContentType.String != fmt.Sprintf("type-%d", k) || l.ValidFromMs != int64(k)*step) {
				errs <- fmt.Errorf("row %s: torn version %+v", id, l)
				return
			}
		}
	}()
	var b Batch
	for k := range rounds {
		b.Reset()
		for n := range rows {
			c := upsert(n, int64(k*rows+n+1), int64(k)*step)
			c.Row.LengthSeconds.Int32 = int32(k)
			c.Row.ContentType.String = fmt.Sprintf("type-%d", k)
			b.Put(c)
		}
		mustApply(t, s, &b)
		if k%40 == 39 {
			if _, err := s.Prune(time.UnixMilli(int64(k) * step)); err != nil {
				t.Fatalf("prune: %v", err)
			}
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
