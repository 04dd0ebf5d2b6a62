package enricher

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/thmanyah/enricher/store"
)

// freshAt is the view's freshness as a fixed answer: what Explain reads of
// the cdc consumer.
type freshAt struct {
	applied  int64
	caughtUp time.Time
}

func (f freshAt) AppliedTsMs() int64    { return f.applied }
func (f freshAt) CaughtUpAt() time.Time { return f.caughtUp }

func TestExplain(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	a := uuid.MustParse("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa") // created 1000, updated 2000, deleted 3000
	b := uuid.MustParse("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb") // created 4000
	unknown := uuid.MustParse("cccccccc-cccc-4ccc-8ccc-cccccccccccc")
	put := func(id uuid.UUID, lsn, ts int64, del bool) store.Change {
		return store.Change{ID: id, Delete: del, Row: store.Row{Slug: "s", Title: "t", LengthSeconds: sql.NullInt32{Int32: int32(lsn), Valid: true}},
			Source: store.Source{Topic: "c", Offset: lsn, LSN: lsn, TsMs: ts}}
	}
	var batch store.Batch
	for _, c := range []store.Change{put(a, 1, 1000, false), put(a, 2, 2000, false), put(a, 3, 3000, true), put(b, 4, 4000, false)} {
		batch.Put(c)
	}
	if _, err := st.Apply(&batch); err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(10_000)
	caughtUp := freshAt{applied: 4000}                                      // caught up before now
	caughtUpLater := freshAt{applied: 4000, caughtUp: now.Add(time.Second)} // the event was written before the view caught up
	for _, tc := range []struct {
		name     string
		mode     Mode
		wait     time.Duration
		fresh    freshAt
		id       uuid.UUID
		at       int64
		decision Decision
		seq      int64 // of the version; -1: none
		reason   string
	}{
		{"as of, between versions", ModeAsOf, time.Minute, caughtUp, a, 1500, DecisionHit, 0, "the last valid at or before the event time"},
		{"as of, exactly at an update", ModeAsOf, time.Minute, caughtUp, a, 2000, DecisionHit, 1, "seq 1 (update"},
		{"event before the first version takes the oldest", ModeAsOf, time.Minute, caughtUp, a, 500, DecisionHit, 0, "precedes the row's first version"},
		{"deleted at the event time is held", ModeAsOf, time.Minute, caughtUp, a, 3000, DecisionHeld, -1, "(seq 2, valid from 1970-01-01T00:00:03.000Z) is a delete; the event is held"},
		{"deleted, no join wait: miss", ModeAsOf, 0, caughtUp, a, 3500, DecisionMiss, -1, "emitted at once as a miss"},
		{"unknown content is held", ModeAsOf, time.Minute, caughtUp, unknown, 1000, DecisionHeld, -1, "is not in the view; the event is held"},
		{"unknown content, no join wait: miss", ModeAsOf, 0, caughtUp, unknown, 1000, DecisionMiss, -1, "is not in the view"},
		{"event newer than the view is held", ModeAsOf, time.Minute, caughtUp, b, 5000, DecisionHeld, 0, "newer than every content change the view applied (1970-01-01T00:00:04.000Z)"},
		{"newer than the view, no join wait: hit", ModeAsOf, 0, caughtUp, b, 5000, DecisionHit, 0, "seq 0 (create"},
		{"newer than the view but written before it caught up: hit", ModeAsOf, time.Minute, caughtUpLater, b, 5000, DecisionHit, 0, "seq 0"},
		{"event exactly at the applied time: hit", ModeAsOf, time.Minute, caughtUp, b, 4000, DecisionHit, 0, "seq 0"},
		{"latest ignores the time", ModeLatest, time.Minute, caughtUp, b, 100, DecisionHit, 0, "mode latest"},
		{"latest never waits for the view", ModeLatest, time.Minute, caughtUp, b, 9000, DecisionHit, 0, "current version"},
		{"latest of a deleted row is held", ModeLatest, time.Minute, caughtUp, a, 1500, DecisionHeld, -1, "is deleted: its current version (seq 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := Explain(ExplainConfig{View: st, Versions: st, Fresh: tc.fresh, Mode: tc.mode, JoinWait: tc.wait}, tc.id, tc.at, now)
			if err != nil {
				t.Fatal(err)
			}
			seq := int64(-1)
			if x.Version != nil {
				seq = int64(x.Version.Seq)
			}
			if x.Decision != tc.decision || seq != tc.seq || !strings.Contains(x.Reason, tc.reason) {
				t.Fatalf("got %s seq %d %q; want %s seq %d, reason containing %q", x.Decision, seq, x.Reason, tc.decision, tc.seq, tc.reason)
			}
			if x.ContentID != tc.id || x.EventTsMs != tc.at || x.Mode != tc.mode {
				t.Fatalf("echo: got %s %d %s", x.ContentID, x.EventTsMs, x.Mode)
			}
		})
	}
	if _, err := Explain(ExplainConfig{View: st}, a, 0, now); err == nil {
		t.Error("missing versions and freshness: got no error")
	}
}

// The pipeline and Explain share provisional; its edges, pinned.
func TestProvisional(t *testing.T) {
	written := time.UnixMilli(5000)
	for _, tc := range []struct {
		name       string
		mode       Mode
		found      bool
		eventMs    int64
		written    time.Time
		caughtUpAt time.Time
		want       bool
	}{
		{"miss", ModeAsOf, false, 0, written, time.Time{}, true},
		{"miss in latest mode", ModeLatest, false, 0, written, time.Time{}, true},
		{"hit at the applied time", ModeAsOf, true, 4000, written, time.Time{}, false},
		{"hit past the applied time", ModeAsOf, true, 4001, written, time.Time{}, true},
		{"past the applied time, written before caught up", ModeAsOf, true, 4001, written, written.Add(time.Millisecond), false},
		{"past the applied time, written when caught up", ModeAsOf, true, 4001, written, written, true},
		{"past the applied time, write time unknown", ModeAsOf, true, 4001, time.Time{}, written, true},
		{"latest mode never waits for the view", ModeLatest, true, 9999, written, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := provisional(tc.mode, tc.found, tc.eventMs, 4000, tc.written, tc.caughtUpAt); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
