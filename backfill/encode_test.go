package backfill

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/thmanyah/enricher/debezium"
)

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// TestAppendEvent checks the encoding against encoding/json and the
// service's decoder, on values that need escaping and on NULLs.
func TestAppendEvent(t *testing.T) {
	cid, uid := uuid.New(), uuid.New()
	ts := time.Date(2025, 1, 1, 12, 30, 0, 123456000, time.FixedZone("x", 3*3600))
	for _, tc := range []struct {
		name string
		r    row
	}{
		{"full", row{ID: 42, ContentID: pgtype.UUID{Bytes: cid, Valid: true}, UserID: pgtype.UUID{Bytes: uid, Valid: true},
			EventType: pgtype.Text{String: "play", Valid: true}, EventTs: ts, DurationMs: pgtype.Int4{Int32: 12340, Valid: true},
			Device: pgtype.Text{String: "ios", Valid: true}, RawPayload: []byte(`{"a": [1, "x"]}`)}},
		{"nulls", row{ID: -1, EventTs: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"escapes", row{ID: 1 << 62, EventTs: ts, EventType: pgtype.Text{String: "q\"b\\s\n\t\r\x01\x1f", Valid: true},
			Device: pgtype.Text{String: "بودكاست </script> \u2028 \xff", Valid: true}, DurationMs: pgtype.Int4{Int32: -2147483648, Valid: true},
			RawPayload: []byte(`"just a string"`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := appendEvent(nil, &tc.r)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, b)
			}
			want := map[string]any{"id": float64(tc.r.ID), "content_id": nil, "user_id": nil, "event_type": nil,
				"event_ts": tc.r.EventTs.UTC().Format(time.RFC3339Nano), "duration_ms": nil, "device": nil, "raw_payload": nil}
			if tc.r.ContentID.Valid {
				want["content_id"] = uuid.UUID(tc.r.ContentID.Bytes).String()
				want["user_id"] = uuid.UUID(tc.r.UserID.Bytes).String()
			}
			if tc.r.EventType.Valid {
				want["event_type"] = tc.r.EventType.String
			}
			if tc.r.Device.Valid {
				// encoding/json's reading of invalid UTF-8.
				var s string
				_ = json.Unmarshal(must(json.Marshal(tc.r.Device.String)), &s)
				want["device"] = s
			}
			if tc.r.DurationMs.Valid {
				want["duration_ms"] = float64(tc.r.DurationMs.Int32)
			}
			switch {
			case tc.r.RawPayload == nil:
			case tc.r.RawPayload[0] == '"':
				want["raw_payload"] = string(tc.r.RawPayload) // a JSON string: its JSON text
			default:
				var v any
				_ = json.Unmarshal(tc.r.RawPayload, &v)
				want["raw_payload"] = v
			}
			if g, w := must(json.Marshal(m)), must(json.Marshal(want)); string(g) != string(w) {
				t.Fatalf("got  %s\nwant %s", g, w)
			}
			ev, err := debezium.NewDecoder(nil).Engagement(context.Background(), []byte(itoa(tc.r.ID)), b)
			if err != nil {
				t.Fatalf("decoder: %v\n%s", err, b)
			}
			if ev.Event.ID != tc.r.ID || !ev.Event.EventTs.Equal(tc.r.EventTs) || ev.Event.ContentID.Valid != tc.r.ContentID.Valid ||
				ev.Event.DurationMs != (sqlInt(tc.r.DurationMs)) || ev.Event.EventType.String != tc.r.EventType.String ||
				string(ev.Event.RawPayload) != string(tc.r.RawPayload) {
				t.Fatalf("decoded %+v from %s", ev.Event, b)
			}
		})
	}
}

func sqlInt(v pgtype.Int4) sql.NullInt32 { return sql.NullInt32{Int32: v.Int32, Valid: v.Valid} }

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
