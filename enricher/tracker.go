package enricher

import (
	"math"
	"sync"
)

// partState is one input partition this member owns in a generation.
type partState struct {
	topicPartition
	hash     uint32
	out, dlq int   // where its output and DLQ records go (targetPartition)
	start    int64 // the committed offset the generation started from

	// skip holds the offsets at or after start whose output a previous
	// owner already wrote (found by the tail scan); read-only once the
	// generation runs. skipMax is the largest, -1 when there is none.
	skip    map[int64]struct{}
	skipMax int64

	// The rest is guarded by tracker.mu.

	// done: every offset below it was delivered, skipped or is held.
	done int64
	// held lists the offsets held for late content in increasing order;
	// released ones are dropped from its front lazily (unheld).
	held   []int64
	unheld map[int64]struct{}
	// marks bound where the output of records not yet committed may lie.
	marks []mark
	// hwm is the partition's end offset as the latest fetch saw it.
	hwm       int64
	committed int64 // -1: none
	meta      commitMeta
	metaValid bool // meta is what the coordinator holds with committed
}

// mark says: the records written for this partition's offsets up to maxSrc
// by one produce (or found by the tail scan) lie at or after out in the
// output partition and dlq in the DLQ partition.
type mark struct {
	maxSrc   int64
	out, dlq int64
}

func (ps *partState) skipped(off int64) bool {
	if off > ps.skipMax {
		return false
	}
	_, ok := ps.skip[off]
	return ok
}

// minHeld returns the smallest offset still held.
func (ps *partState) minHeld() (int64, bool) {
	for len(ps.held) > 0 {
		if _, ok := ps.unheld[ps.held[0]]; !ok {
			return ps.held[0], true
		}
		delete(ps.unheld, ps.held[0])
		ps.held = ps.held[1:]
	}
	return 0, false
}

// frontiers are, per output and DLQ partition, the offset after the last
// record this process saw acknowledged there (the writer's Completion) or
// the end offset it read: every record written after that lies at or after
// it.
type frontiers struct {
	mu sync.Mutex
	m  map[topicPartition]int64
}

func (f *frontiers) raise(tp topicPartition, next int64) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[topicPartition]int64{}
	}
	if next > f.m[tp] {
		f.m[tp] = next
	}
	f.mu.Unlock()
}

func (f *frontiers) get(tp topicPartition) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[tp]
}

// tracker is what a generation knows of its partitions' progress: what was
// delivered, what is held, and where the output of what is not committed yet
// may lie. Deliveries update it; commits read it.
type tracker struct {
	mu         sync.Mutex
	parts      []*partState
	outTopic   string
	dlqTopic   string
	front      *frontiers
	exactlyOne bool
}

// bounds returns where anything ps writes from now on will lie.
func (t *tracker) bounds(ps *partState) (out, dlq int64) {
	return t.front.get(topicPartition{t.outTopic, ps.out}), t.front.get(topicPartition{t.dlqTopic, ps.dlq})
}

// sending records, before a produce, that it writes records of ps's offsets
// up to maxSrc.
func (t *tracker) sending(ps *partState, maxSrc int64) {
	if !t.exactlyOne {
		return
	}
	out, dlq := t.bounds(ps)
	t.mu.Lock()
	if n := len(ps.marks); n > 0 && ps.marks[n-1].out == out && ps.marks[n-1].dlq == dlq {
		ps.marks[n-1].maxSrc = max(ps.marks[n-1].maxSrc, maxSrc)
	} else {
		ps.marks = append(ps.marks, mark{maxSrc: maxSrc, out: out, dlq: dlq})
	}
	t.mu.Unlock()
}

// hold records that ps's record at off is held: no commit passes it until unhold.
func (t *tracker) hold(ps *partState, off int64) {
	t.mu.Lock()
	ps.held = append(ps.held, off)
	t.mu.Unlock()
}

// delivered records, after the broker acknowledged a produce, that every
// record of ps before next is done, and that the held records at the
// offsets in released are too.
func (t *tracker) delivered(ps *partState, next int64, hwm int64) {
	t.mu.Lock()
	ps.done = max(ps.done, next)
	ps.hwm = max(ps.hwm, hwm)
	t.mu.Unlock()
}

func (t *tracker) unhold(ps *partState, off int64) {
	t.mu.Lock()
	if ps.unheld == nil {
		ps.unheld = map[int64]struct{}{}
	}
	ps.unheld[off] = struct{}{}
	t.mu.Unlock()
}

// commitPoint is what to commit for one partition.
type commitPoint struct {
	ps     *partState
	offset int64
	meta   commitMeta
}

// points appends to dst what to commit for every partition whose position
// moved: the first offset not done or held, and where the output of the
// records from there on may lie (the least bound of the marks that cover
// them, or the frontiers when none does).
func (t *tracker) points(dst []commitPoint) []commitPoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ps := range t.parts {
		c := ps.done
		if h, ok := ps.minHeld(); ok && h < c {
			c = h
		}
		meta := commitMeta{out: scanFrom{ps.out, math.MaxInt64}, dlq: scanFrom{ps.dlq, math.MaxInt64}}
		if t.exactlyOne {
			keep := ps.marks[:0]
			for _, m := range ps.marks {
				if m.maxSrc >= c {
					keep = append(keep, m)
					meta.out.offset = min(meta.out.offset, m.out)
					meta.dlq.offset = min(meta.dlq.offset, m.dlq)
				}
			}
			clear(ps.marks[len(keep):])
			ps.marks = keep
			out, dlq := t.bounds(ps)
			meta.out.offset = min(meta.out.offset, out)
			meta.dlq.offset = min(meta.dlq.offset, dlq)
		}
		if c == ps.committed && (!t.exactlyOne || (ps.metaValid && meta == ps.meta)) {
			continue
		}
		dst = append(dst, commitPoint{ps: ps, offset: c, meta: meta})
	}
	return dst
}

// committed records a commit the coordinator accepted.
func (t *tracker) committed(cps []commitPoint) {
	t.mu.Lock()
	for _, cp := range cps {
		cp.ps.committed, cp.ps.meta, cp.ps.metaValid = cp.offset, cp.meta, true
	}
	t.mu.Unlock()
}
