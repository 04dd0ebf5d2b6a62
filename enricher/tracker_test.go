package enricher

import "testing"

func newTestTracker() (*tracker, *partState) {
	t := &tracker{outTopic: "out", dlqTopic: "dlq", front: &frontiers{}, exactlyOne: true}
	ps := &partState{topicPartition: topicPartition{"in", 0}, out: 2, dlq: 0, skipMax: -1}
	t.parts = []*partState{ps}
	return t, ps
}

func TestTrackerCommitsUpToTheFirstHeldEvent(t *testing.T) {
	tr, ps := newTestTracker()
	out, dlq := topicPartition{"out", 2}, topicPartition{"dlq", 0}
	tr.front.raise(out, 100)
	tr.front.raise(dlq, 10)

	// Offsets 0..9 sent in one produce; 5 is held.
	tr.hold(ps, 5)
	tr.sending(ps, 9)
	tr.front.raise(out, 109) // the broker put the 9 records at 100..108
	tr.delivered(ps, 10, 20)
	pts := tr.points(nil)
	if len(pts) != 1 || pts[0].offset != 5 {
		t.Fatalf("points: got %+v, want offset 5 (the held event)", pts)
	}
	// Records of offsets 6..9 were written at 100..108: the scan must start there.
	if m := pts[0].meta; m.out != (scanFrom{2, 100}) || m.dlq != (scanFrom{0, 10}) {
		t.Fatalf("meta: got %+v, want out 2@100 dlq 0@10", m)
	}
	tr.committed(pts)
	if pts := tr.points(nil); len(pts) != 0 {
		t.Fatalf("nothing moved: got %+v", pts)
	}

	// 5 is released and written at 109; now everything up to 10 is done and
	// nothing after it was written: the scan starts at the frontier.
	tr.sending(ps, 5)
	tr.front.raise(out, 110)
	tr.unhold(ps, 5)
	pts = tr.points(nil)
	if len(pts) != 1 || pts[0].offset != 10 || pts[0].meta.out != (scanFrom{2, 110}) {
		t.Fatalf("after release: got %+v, want offset 10 from 2@110", pts)
	}
}

func TestTrackerMarkCoversRecordsInFlight(t *testing.T) {
	tr, ps := newTestTracker()
	out := topicPartition{"out", 2}
	tr.front.raise(out, 50)
	tr.sending(ps, 3)
	tr.front.raise(out, 54)
	tr.delivered(ps, 4, 4)
	// A produce of 4..7 is in flight when the commit of 4 is made: its
	// records will land at 54 or later, and the commit must say so.
	tr.sending(ps, 7)
	pts := tr.points(nil)
	if len(pts) != 1 || pts[0].offset != 4 || pts[0].meta.out.offset != 54 {
		t.Fatalf("got %+v, want offset 4 scanning from 54", pts)
	}
}

func TestTrackerAtLeastOnceHasNoMarks(t *testing.T) {
	tr, ps := newTestTracker()
	tr.exactlyOne = false
	tr.sending(ps, 3)
	tr.delivered(ps, 4, 4)
	if len(ps.marks) != 0 {
		t.Fatalf("marks kept without exactly-once: %+v", ps.marks)
	}
	if pts := tr.points(nil); len(pts) != 1 || pts[0].offset != 4 {
		t.Fatalf("got %+v, want offset 4", pts)
	}
}

func TestPartStateSkipped(t *testing.T) {
	ps := &partState{skip: map[int64]struct{}{3: {}, 7: {}}, skipMax: 7}
	for off, want := range map[int64]bool{2: false, 3: true, 5: false, 7: true, 8: false} {
		if got := ps.skipped(off); got != want {
			t.Errorf("skipped(%d): got %v, want %v", off, got, want)
		}
	}
}
