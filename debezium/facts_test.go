package debezium

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// decodeAll decodes every variant of a record, keyed by variant.
func decodeAll(t *testing.T, d *Decoder, name string) (manifestRecord, map[string]any) {
	t.Helper()
	for _, rec := range loadManifest(t) {
		if rec.Name != name {
			continue
		}
		out := map[string]any{}
		for _, v := range variants(rec) {
			ev, err := decodeFixture(t, d, rec, rec.Files[v])
			if err != nil {
				t.Fatalf("%s.%s: %v", name, v, err)
			}
			out[v] = ev
		}
		return rec, out
	}
	t.Fatalf("no record %q in manifest", name)
	return manifestRecord{}, nil
}

func TestFacts(t *testing.T) {
	d := registryDecoder(t, newFakeRegistry(t).URL())
	content := func(t *testing.T, name string, check func(t *testing.T, v string, ev ContentEvent)) {
		_, evs := decodeAll(t, d, name)
		for v, ev := range evs {
			check(t, v, ev.(ContentEvent))
		}
	}
	engagement := func(t *testing.T, name string, check func(t *testing.T, v string, ev EngagementEvent)) {
		_, evs := decodeAll(t, d, name)
		for v, ev := range evs {
			check(t, v, ev.(EngagementEvent))
		}
	}
	t.Run("toast title unavailable", func(t *testing.T) {
		content(t, "content-update-toast", func(t *testing.T, v string, ev ContentEvent) {
			if ev.Unavailable != ColTitle || ev.Row.Title != "" || ev.Row.Slug != "long-read-gulf-ports-history" {
				t.Errorf("%s: unavailable=%v title=%q slug=%q", v, ev.Unavailable, ev.Row.Title, ev.Row.Slug)
			}
			if ev.Op != OpUpdate || ev.Row.LengthSeconds.Int32 != 1380 {
				t.Errorf("%s: op=%v length=%v", v, ev.Op, ev.Row.LengthSeconds)
			}
		})
	})
	deleted := uuid.MustParse("a3d90c27-6b14-4f5e-8c02-71e4b9f6d358")
	t.Run("delete by key", func(t *testing.T) {
		content(t, "content-delete", func(t *testing.T, v string, ev ContentEvent) {
			if ev.Kind != KindChange || ev.Op != OpDelete || ev.Key != deleted || ev.Row.ID != deleted {
				t.Errorf("%s: %+v", v, ev)
			}
		})
	})
	t.Run("tombstone", func(t *testing.T) {
		content(t, "content-tombstone", func(t *testing.T, v string, ev ContentEvent) {
			if ev.Kind != KindTombstone || ev.Key != deleted || ev.Op != 0 {
				t.Errorf("%s: %+v", v, ev)
			}
		})
	})
	t.Run("truncate", func(t *testing.T) {
		content(t, "content-truncate", func(t *testing.T, v string, ev ContentEvent) {
			if ev.Kind != KindTruncate || ev.Op != OpTruncate || ev.Source.Table != "content" || ev.Source.LSN != 62452816 {
				t.Errorf("%s: %+v", v, ev)
			}
		})
		engagement(t, "engagement-truncate", func(t *testing.T, v string, ev EngagementEvent) {
			if ev.Kind != KindTruncate || ev.Source.Table != "engagement_events" || ev.Source.TxID != 918502 {
				t.Errorf("%s: %+v", v, ev)
			}
		})
	})
	t.Run("heartbeat through both decoders", func(t *testing.T) {
		content(t, "heartbeat", func(t *testing.T, v string, ev ContentEvent) {
			if ev.Kind != KindHeartbeat || ev.Source.TsMs != 1741599060027 {
				t.Errorf("%s: %+v", v, ev)
			}
		})
		for _, v := range []string{"plain", "schema"} {
			ev, err := d.Engagement(context.Background(), readFixture(t, "heartbeat."+v+".key.json"), readFixture(t, "heartbeat."+v+".value.json"))
			if err != nil || ev.Kind != KindHeartbeat || ev.Source.TsMs != 1741599060027 {
				t.Errorf("engagement %s: %+v %v", v, ev, err)
			}
		}
	})
	t.Run("snapshot is op r", func(t *testing.T) {
		for name, snap := range map[string]string{
			"content-snapshot-first": "first", "content-snapshot-true": "true",
			"content-snapshot-last-in-data-collection": "last_in_data_collection",
		} {
			content(t, name, func(t *testing.T, v string, ev ContentEvent) {
				if ev.Op != OpRead || (!strings.HasPrefix(v, "unwrap") && ev.Source.Snapshot != snap) {
					t.Errorf("%s.%s: op=%v snapshot=%q", name, v, ev.Op, ev.Source.Snapshot)
				}
			})
		}
		for name, snap := range map[string]string{
			"engagement-snapshot-first-in-data-collection": "first_in_data_collection", "engagement-snapshot-last": "last",
		} {
			engagement(t, name, func(t *testing.T, v string, ev EngagementEvent) {
				if ev.Op != OpRead || (!strings.HasPrefix(v, "unwrap") && ev.Source.Snapshot != snap) {
					t.Errorf("%s.%s: op=%v snapshot=%q", name, v, ev.Op, ev.Source.Snapshot)
				}
			})
		}
	})
	t.Run("null content id", func(t *testing.T) {
		engagement(t, "engagement-create-null-content", func(t *testing.T, v string, ev EngagementEvent) {
			e := ev.Event
			if e.ContentID.Valid || e.DurationMs.Valid || !e.UserID.Valid || e.EventType.String != "click" {
				t.Errorf("%s: %+v", v, e)
			}
			if want := `{"utm": {"source": "x", "campaign": "ramadan25"}, "page": "/newsletters", "target": "subscribe_banner"}`; string(e.RawPayload) != want {
				t.Errorf("%s: raw payload %s", v, e.RawPayload)
			}
		})
	})
	t.Run("null duration", func(t *testing.T) {
		engagement(t, "engagement-create-null-duration", func(t *testing.T, v string, ev EngagementEvent) {
			e := ev.Event
			if e.DurationMs.Valid || !e.ContentID.Valid || e.ID != 1003 || e.Device.String != "android" {
				t.Errorf("%s: %+v", v, e)
			}
			if want := time.Date(2025, 3, 10, 9, 21, 5, 402_000_000, time.UTC); !e.EventTs.Equal(want) || e.EventTs.Location() != time.UTC {
				t.Errorf("%s: event_ts %v", v, e.EventTs)
			}
		})
	})
	t.Run("jsonb preserved", func(t *testing.T) {
		engagement(t, "engagement-create-jsonb", func(t *testing.T, v string, ev EngagementEvent) {
			want := `{"network": "cellular", "completed": true, "app_version": "5.12.0", "position_ms": 5411000}`
			if string(ev.Event.RawPayload) != want || ev.Event.DurationMs.Int32 != 5411000 {
				t.Errorf("%s: %s", v, ev.Event.RawPayload)
			}
		})
	})
	t.Run("arabic title bytes", func(t *testing.T) {
		const title = "\u0641\u0646\u062c\u0627\u0646: \u0631\u062d\u0644\u0629 \u0627\u0644\u062e\u0637 \u0627\u0644\u0639\u0631\u0628\u064a \u0645\u0646 \u0627\u0644\u0643\u0648\u0641\u064a \u0625\u0644\u0649 \u0627\u0644\u0631\u0642\u0639\u0629"
		for _, name := range []string{"content-create-arabic", "content-update"} {
			content(t, name, func(t *testing.T, v string, ev ContentEvent) {
				if ev.Row.Title != title {
					t.Errorf("%s.%s: title % x", name, v, ev.Row.Title)
				}
			})
		}
	})
	t.Run("nulls", func(t *testing.T) {
		content(t, "content-create-nulls", func(t *testing.T, v string, ev ContentEvent) {
			if ev.Row.ContentType.Valid || ev.Row.LengthSeconds.Valid || ev.Unavailable != 0 {
				t.Errorf("%s: %+v", v, ev.Row)
			}
		})
	})
	t.Run("publish_ts", func(t *testing.T) {
		content(t, "content-snapshot-last-in-data-collection", func(t *testing.T, v string, ev ContentEvent) {
			if want := time.Date(2025, 3, 1, 15, 45, 30, 0, time.UTC); !ev.Row.PublishTS.Equal(want) {
				t.Errorf("%s: %v", v, ev.Row.PublishTS)
			}
		})
	})
}

// TestFormsAgree checks that every variant of a record means the same: the
// same kind, op, key and row. Source must agree too, except that the
// flattened form carries only ts_ms.
func TestFormsAgree(t *testing.T) {
	d := registryDecoder(t, newFakeRegistry(t).URL())
	for _, rec := range loadManifest(t) {
		_, evs := decodeAll(t, d, rec.Name)
		ref := evs["plain"]
		if ref == nil {
			t.Fatalf("%s: no plain variant", rec.Name)
		}
		for v, ev := range evs {
			got, want := ev, ref
			if strings.HasPrefix(v, "unwrap") {
				got, want = withoutSource(ev), withoutSource(ref)
				if tsMs(ev) != tsMs(ref) {
					t.Errorf("%s.%s: source ts_ms %d, plain has %d", rec.Name, v, tsMs(ev), tsMs(ref))
				}
			}
			if !equalEvents(got, want) {
				t.Errorf("%s.%s disagrees with plain:\n%+v\n%+v", rec.Name, v, got, want)
			}
		}
		if rec.Op != nil && len(*rec.Op) == 1 {
			if op := opOf(ref); op != Op((*rec.Op)[0]) {
				t.Errorf("%s: op %v, manifest says %s", rec.Name, op, *rec.Op)
			}
		}
	}
}

func withoutSource(ev any) any {
	switch e := ev.(type) {
	case ContentEvent:
		e.Source = Source{}
		return e
	case EngagementEvent:
		e.Source = Source{}
		return e
	}
	return ev
}

func tsMs(ev any) int64 {
	switch e := ev.(type) {
	case ContentEvent:
		return e.Source.TsMs
	case EngagementEvent:
		return e.Source.TsMs
	}
	return -1
}

func opOf(ev any) Op {
	switch e := ev.(type) {
	case ContentEvent:
		return e.Op
	case EngagementEvent:
		return e.Op
	}
	return 0
}

func equalEvents(a, b any) bool {
	ra, err1 := render(a)
	rb, err2 := render(b)
	return err1 == nil && err2 == nil && string(ra) == string(rb)
}
