package debezium

import (
	"context"
	"testing"
)

// seedFixtures adds every key/value pair of the given topic family.
func seedFixtures(f *testing.F, engagement bool) {
	for _, rec := range loadManifest(f) {
		for _, files := range rec.Files {
			f.Add(readFixture(f, files["key"]), readFixture(f, files["value"]))
		}
	}
	if engagement {
		f.Add([]byte("42"), []byte(`{"id":42,"content_id":"c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03","event_ts":1735734600000,"raw_payload":{"a":1}}`))
	}
}

func validContent(ev ContentEvent) bool {
	switch ev.Kind {
	case KindChange:
		return ev.Op == OpCreate || ev.Op == OpRead || ev.Op == OpUpdate || ev.Op == OpDelete
	case KindTruncate:
		return ev.Op == OpTruncate
	case KindTombstone, KindHeartbeat:
		return ev.Op == 0
	}
	return false
}

func FuzzContent(f *testing.F) {
	seedFixtures(f, false)
	d := NewDecoder(fixtureSource(f))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		ev, err := d.Content(context.Background(), key, value)
		if err != nil {
			if Retryable(err) {
				t.Fatalf("in-memory source cannot fail transiently: %v", err)
			}
			return
		}
		if !validContent(ev) {
			t.Fatalf("success with invalid event %+v", ev)
		}
		if ev.Kind == KindChange && ev.Row.ID != ev.Key {
			t.Fatalf("row id %v != key %v", ev.Row.ID, ev.Key)
		}
	})
}

func FuzzEngagement(f *testing.F) {
	seedFixtures(f, true)
	d := NewDecoder(fixtureSource(f))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		ev, err := d.Engagement(context.Background(), key, value)
		if err != nil {
			if Retryable(err) {
				t.Fatalf("in-memory source cannot fail transiently: %v", err)
			}
			return
		}
		ok := false
		switch ev.Kind {
		case KindChange:
			ok = ev.Op == OpCreate || ev.Op == OpRead || ev.Op == OpUpdate || ev.Op == OpDelete
		case KindTruncate:
			ok = ev.Op == OpTruncate
		case KindTombstone, KindHeartbeat:
			ok = ev.Op == 0
		}
		if !ok {
			t.Fatalf("success with invalid event %+v", ev)
		}
		if ev.Event.RawPayload != nil && !jsonValid(ev.Event.RawPayload) {
			t.Fatalf("raw payload is not JSON: %q", ev.Event.RawPayload)
		}
	})
}
