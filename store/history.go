package store

import (
	"math"
	"math/bits"

	"github.com/google/uuid"
)

// The older versions of a row (all but latest) live in its shard's arena,
// hist, in a run of 1<<class slots, class being the smallest that holds them.
// A single-version row has no run, so it costs its map slot and nothing else.
// Runs grow and shrink by moving to a run of another class; freed runs are
// kept per class for reuse, so churn does not grow the arena. Every change to
// hist happens under the shard's write lock (growing may move the arena),
// and readers read it under the read lock.

// maxClass is the class of the largest run: a row cannot have more than
// math.MaxUint32 versions in memory.
const maxClass = 32

// classOf returns the class of a run for k >= 1 older versions.
func classOf(k uint32) uint8 { return uint8(bits.Len32(k - 1)) }

// older returns the older versions of e, oldest first; nil for a single
// version. The slice is valid while the shard lock is held.
func (sh *shard) older(e *entry) []version {
	if e.n <= 1 {
		return nil
	}
	k := e.n - 1
	return sh.hist[e.off : e.off+k : e.off+k]
}

// at returns version i of e, 0 being the oldest.
func (sh *shard) at(e *entry, i uint32) *version {
	if i == e.n-1 {
		return &e.latest
	}
	return &sh.hist[e.off+i]
}

func (sh *shard) alloc(class uint8) uint32 {
	if f := sh.free[class]; len(f) > 0 {
		off := f[len(f)-1]
		sh.free[class] = f[:len(f)-1]
		return off
	}
	off, size := len(sh.hist), 1<<class
	if off+size > math.MaxUint32 {
		// 4G versions in one shard: far beyond any memory this runs in.
		panic("store: index arena offset overflow")
	}
	if n := off + size; n <= cap(sh.hist) {
		sh.hist = sh.hist[:n]
	} else {
		sh.hist = append(sh.hist, make([]version, size)...)
	}
	return uint32(off)
}

func (sh *shard) release(off uint32, k uint32) {
	c := classOf(k)
	sh.free[c] = append(sh.free[c], off)
}

// extend appends vs (oldest first, at least one) to e's history, which is
// empty when e.n is 0; the last of vs becomes latest. The shard's write lock
// is held, or no reader can see the shard yet.
func (sh *shard) extend(e *entry, vs []version) {
	var k uint32 // older versions before
	if e.n > 0 {
		k = e.n - 1
	}
	k2 := e.n + uint32(len(vs)) - 1 // and after
	if k2 > 0 {
		off := e.off
		if k == 0 || classOf(k) != classOf(k2) {
			off = sh.alloc(classOf(k2))
			if k > 0 {
				copy(sh.hist[off:off+k], sh.hist[e.off:e.off+k])
				sh.release(e.off, k)
			}
		}
		run := sh.hist[off : off+k2]
		i := k
		if e.n > 0 {
			run[i] = e.latest
			i++
		}
		copy(run[i:], vs[:len(vs)-1])
		e.off = off
	}
	e.latest = vs[len(vs)-1]
	e.n += uint32(len(vs))
}

// dropPrefix removes the c oldest versions of row id, c < e.n.
func (sh *shard) dropPrefix(id uuid.UUID, e *entry, c uint32) {
	sh.forgetOdd(id, e.firstSeq, c)
	k := e.n - 1
	k2 := k - c
	switch {
	case k2 == 0:
		sh.release(e.off, k)
	case classOf(k2) == classOf(k):
		run := sh.hist[e.off : e.off+k]
		copy(run, run[c:])
	default:
		off := sh.alloc(classOf(k2))
		copy(sh.hist[off:off+k2], sh.hist[e.off+c:e.off+k])
		sh.release(e.off, k)
		e.off = off
	}
	e.n -= c
	e.firstSeq += uint64(c)
}

// remove drops row id and its whole history.
func (sh *shard) remove(id uuid.UUID, e *entry) {
	sh.forgetOdd(id, e.firstSeq, e.n)
	if e.n > 1 {
		sh.release(e.off, e.n-1)
	}
	delete(sh.m, id)
}

func (sh *shard) forgetOdd(id uuid.UUID, first uint64, n uint32) {
	if len(sh.odd) == 0 {
		return
	}
	for seq := first; seq < first+uint64(n); seq++ {
		delete(sh.odd, verKey{id, seq})
	}
}

// setOdd records the content type of a flagOddType version.
func (sh *shard) setOdd(k verKey, name string) {
	if sh.odd == nil {
		sh.odd = map[verKey]string{}
	}
	sh.odd[k] = name
}
