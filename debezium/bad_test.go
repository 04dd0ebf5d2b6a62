package debezium

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const (
	goodUUID  = "c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03"
	goodKey   = `{"id":"` + goodUUID + `"}`
	goodAfter = `{"id":"` + goodUUID + `","slug":"s","title":"t","content_type":null,"length_seconds":1,"publish_ts":"2025-03-10T09:20:00.000000Z"}`
	src       = `"source":{"ts_ms":1,"table":"content","lsn":8}`
	engSrc    = `"source":{"ts_ms":1,"table":"engagement_events"}`
	goodEvent = `{"id":42,"content_id":"` + goodUUID + `","event_ts":"2025-01-01T12:30:00Z"}`
)

func contentAfter(after string) string {
	return `{"before":null,"after":` + after + `,` + src + `,"op":"c"}`
}

func TestBadInput(t *testing.T) {
	avroValue := readFixture(t, "content-update.avro.value.hex")
	avroKey := readFixture(t, "content-update.avro.key.hex")
	engAvro := readFixture(t, "engagement-create-jsonb.avro.value.hex")
	cases := []struct {
		name       string
		engagement bool
		key, value string
		want       string
	}{
		{"malformed JSON", false, goodKey, `{"op":`, "decode content value: malformed JSON"},
		{"malformed JSON engagement", true, "", `{"id":1,}`, "decode engagement value: malformed JSON at offset 9"},
		{"array", false, goodKey, `[1,2]`, "value is not a debezium envelope, flattened row or heartbeat: got JSON array"},
		{"no envelope", false, goodKey, `{"foo":1}`, "value is not a debezium envelope"},
		{"string", true, "", `"x"`, "value is not a debezium envelope, flattened row or heartbeat: got JSON string"},
		{"unknown op", false, goodKey, `{"after":` + goodAfter + `,` + src + `,"op":"x"}`, `unknown op "x"`},
		{"op of wrong type", false, goodKey, `{"after":` + goodAfter + `,` + src + `,"op":1}`, `field "op": want op string, got number 1`},
		{"unknown flattened op", false, goodKey, `{"id":"` + goodUUID + `","__op":"m"}`, `unknown op "m"`},
		{"no op", false, goodKey, `{"after":` + goodAfter + `,` + src + `}`, `debezium envelope without "op"`},
		{"create without after", false, goodKey, `{"before":null,"after":null,` + src + `,"op":"c"}`, `op "c" without "after"`},
		{"length as string", false, goodKey, contentAfter(strings.Replace(goodAfter, `"length_seconds":1`, `"length_seconds":"1"`, 1)),
			`decode content value: after: field "length_seconds": want int32, got string "1"`},
		{"length out of range", false, goodKey, contentAfter(strings.Replace(goodAfter, `"length_seconds":1`, `"length_seconds":2147483648`, 1)),
			`field "length_seconds": want int32, got number 2147483648`},
		{"length fraction", false, goodKey, contentAfter(strings.Replace(goodAfter, `"length_seconds":1`, `"length_seconds":1.5`, 1)),
			`field "length_seconds": want int32, got number 1.5`},
		{"title number", false, goodKey, contentAfter(strings.Replace(goodAfter, `"title":"t"`, `"title":7`, 1)),
			`field "title": want string, got number 7`},
		{"title null", false, goodKey, contentAfter(strings.Replace(goodAfter, `"title":"t"`, `"title":null`, 1)),
			`after: field "title": want string, got null`},
		{"title missing", false, goodKey, contentAfter(strings.Replace(goodAfter, `"title":"t",`, ``, 1)),
			`after: field "title": missing`},
		{"bad publish_ts", false, goodKey, contentAfter(strings.Replace(goodAfter, `2025-03-10T09:20:00.000000Z`, `2025-02-30T09:20:00Z`, 1)),
			`field "publish_ts": want timestamp (RFC 3339 string or epoch milliseconds), got string "2025-02-30T09:20:00Z"`},
		{"row id not uuid", false, "", contentAfter(strings.Replace(goodAfter, goodUUID, "abc", 1)), `after: field "id": "abc" is not a uuid`},
		{"source ts as string", false, goodKey, `{"after":` + goodAfter + `,"source":{"ts_ms":"1"},"op":"c"}`, `source: field "ts_ms": want int64, got string "1"`},
		{"wrong table", false, "", readString(t, "engagement-truncate.plain.value.json"), `record is for table "engagement_events", not "content"`},
		{"wrong table flattened", true, "", `{"id":1,"event_ts":"2025-01-01T00:00:00Z","__table":"content"}`, `record is for table "content", not "engagement_events"`},
		{"nested wrapper", false, goodKey, `{"schema":{},"payload":{"schema":{},"payload":` + goodAfter + `}}`, "nested JsonConverter wrapper"},
		{"nested wrapper, payload first", false, goodKey, `{"payload":{"schema":{},"payload":` + goodAfter + `},"schema":{}}`, "nested JsonConverter wrapper"},
		{"null payload", false, goodKey, `{"schema":{"type":"struct"},"payload":null}`, `JsonConverter value without "payload"`},
		{"deleted contradicts op", false, goodKey, `{"id":"` + goodUUID + `","__deleted":"true","__op":"u"}`, `__deleted true contradicts __op "u"`},
		{"deleted bad value", false, goodKey, `{"id":"` + goodUUID + `","__deleted":"yes"}`, `field "__deleted": want "true" or "false", got string "yes"`},
		{"flattened truncate", false, goodKey, `{"id":"` + goodUUID + `","__op":"t"}`, `flattened row with __op "t"`},
		{"tombstone without key", false, "", "", "null value and null key"},
		{"engagement tombstone without key", true, "", "", "null value and null key"},
		{"delete without before or key", false, "", `{"before":null,"after":null,` + src + `,"op":"d"}`, "delete with neither before image nor key"},
		{"non-uuid key", false, `{"id":"abc"}`, contentAfter(goodAfter), `content key: "abc" is not a uuid`},
		{"non-uuid tombstone key", false, `{"id":"abc"}`, "", `content key: "abc" is not a uuid`},
		{"key without id", false, `{"serverName":"x"}`, contentAfter(goodAfter), `content key: key has no "id"`},
		{"key of wrong type", false, `{"id":5}`, contentAfter(goodAfter), `content key: field "id": want uuid string, got number 5`},
		{"key mismatch", false, `{"id":"5b1e3f9a-2c47-4d8e-9f61-0a7c3b2d4e15"}`, contentAfter(goodAfter), "key 5b1e3f9a-2c47-4d8e-9f61-0a7c3b2d4e15 does not match row id " + goodUUID},
		{"engagement key not a number", true, `{"id":"x"}`, "", `engagement key: field "id": want int64, got string "x"`},
		{"engagement key garbage", true, `abc`, "", `engagement key: "abc" is not an event id`},
		{"engagement id string", true, "", `{"id":"42","event_ts":"2025-01-01T12:30:00Z"}`, `field "id": want int64, got string "42"`},
		{"engagement id missing", true, "", `{"after":{"event_ts":"2025-01-01T12:30:00Z"},` + engSrc + `,"op":"c"}`, `after: field "id": missing`},
		{"event_ts missing", true, "", `{"id":42}`, `field "event_ts": missing`},
		{"event_ts bool", true, "", `{"id":42,"event_ts":true}`, `field "event_ts": want timestamp (RFC 3339 string or epoch milliseconds), got bool`},
		{"event_ts float", true, "", `{"id":42,"event_ts":1.5e12}`, `got number 1.5e12`},
		{"duration out of range", true, "", strings.Replace(goodEvent, `{"id":42,`, `{"id":42,"duration_ms":-2147483649,`, 1), `field "duration_ms": want int32, got number -2147483649`},
		{"content_id not uuid", true, "", strings.Replace(goodEvent, goodUUID, "not-a-uuid", 1), `field "content_id": "not-a-uuid" is not a uuid`},
		{"user_id number", true, "", strings.Replace(goodEvent, `{"id":42,`, `{"id":42,"user_id":7,`, 1), `field "user_id": want uuid string, got number 7`},
		{"raw_payload not JSON", true, "", strings.Replace(goodEvent, `{"id":42,`, `{"id":42,"raw_payload":"{nope",`, 1), `field "raw_payload": want JSON, got string that is not JSON text: "{nope"`},
		{"truncated avro", false, string(avroKey), string(avroValue[:len(avroValue)/2]), "decode content value: avro schema id 2"},
		{"avro trailing bytes", false, string(avroKey), string(append(append([]byte(nil), avroValue...), 1, 2)), "2 bytes left after the datum"},
		{"truncated avro key", false, string(avroKey[:10]), string(avroValue), "decode content key: avro schema id 1"},
		{"avro engagement in content", false, "", string(engAvro), `after: field "id": want uuid string, got long`},
		{"short avro frame", false, goodKey, "\x00\x00\x01", "malformed JSON"},
	}
	d := NewDecoder(fixtureSource(t))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var key, value []byte
			if tc.key != "" {
				key = []byte(tc.key)
			}
			if tc.value != "" {
				value = []byte(tc.value)
			}
			var err error
			if tc.engagement {
				_, err = d.Engagement(context.Background(), key, value)
			} else {
				_, err = d.Content(context.Background(), key, value)
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n does not contain %q", err, tc.want)
			}
			if Retryable(err) {
				t.Error("bad input must be poison, not retryable")
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("%T is not a *DecodeError", err)
			}
		})
	}
}

func readString(t *testing.T, name string) string { return string(readFixture(t, name)) }

// TestLiberal covers inputs that are unusual but unambiguous.
func TestLiberal(t *testing.T) {
	d := NewDecoder(nil)
	ctx := context.Background()
	upper := strings.ToUpper(goodUUID)
	t.Run("content", func(t *testing.T) {
		for name, tc := range map[string]struct{ key, value string }{
			"reordered, extra fields, uppercase uuid": {`{"extra":1,"id":"` + upper + `"}`,
				`{"op":"u","x":{"y":[1]},"source":{"table":"content","ts_ms":5,"new":true},"after":{"publish_ts":"2025-03-10T12:20:00+03:00","title":"t","slug":"s","id":"` + upper + `","more":null}}`},
			"bare uuid key":         {goodUUID, contentAfter(goodAfter)},
			"json string key":       {`"` + goodUUID + `"`, contentAfter(goodAfter)},
			"no key":                {"", contentAfter(goodAfter)},
			"flattened without __":  {goodKey, goodAfter},
			"escaped text":          {goodKey, contentAfter(strings.Replace(goodAfter, `"title":"t"`, `"title":"t\u0000\"\u00e9\ud83d\ude00"`, 1))},
			"epoch millis":          {goodKey, contentAfter(strings.Replace(goodAfter, `"2025-03-10T09:20:00.000000Z"`, `1741598400000`, 1))},
			"boolean __deleted":     {goodKey, `{"id":"` + goodUUID + `","__deleted":true}`},
			"source-less envelope":  {goodKey, `{"after":` + goodAfter + `,"op":"r"}`},
			"row with bare op":      {goodKey, goodAfter[:len(goodAfter)-1] + `,"op":"u"}`},
			"whitespace around all": {goodKey, " \n" + contentAfter(goodAfter) + "\n"},
		} {
			ev, err := d.Content(ctx, []byte(tc.key), []byte(tc.value))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if ev.Key.String() != goodUUID || ev.Row.ID != ev.Key || ev.Kind != KindChange {
				t.Errorf("%s: %+v", name, ev)
			}
			if name == "escaped text" && ev.Row.Title != "t\x00\"\u00e9\U0001F600" {
				t.Errorf("%s: title %q", name, ev.Row.Title)
			}
			if name == "reordered, extra fields, uppercase uuid" && (ev.Row.PublishTS.Hour() != 9 || ev.Op != OpUpdate) {
				t.Errorf("%s: %v %v", name, ev.Row.PublishTS, ev.Op)
			}
		}
	})
	t.Run("engagement plain event", func(t *testing.T) {
		plain := `{"id":42,"content_id":"` + upper + `","user_id":"` + upper + `","event_type":"play","event_ts":"2025-01-01T12:30:00.123456789Z","duration_ms":12340,"device":"ios","raw_payload":{"a": [1, 2]}}`
		for name, tc := range map[string]struct {
			key, value string
			check      func(e Engagement) bool
		}{
			"contract example": {"", plain, func(e Engagement) bool {
				return e.ID == 42 && e.UserID.String == goodUUID && e.ContentID.UUID.String() == goodUUID &&
					string(e.RawPayload) == `{"a": [1, 2]}` && e.EventTs.Nanosecond() == 123457000 && e.DurationMs.Int32 == 12340
			}},
			"epoch millis, nulls absent": {"42", `{"id":42,"event_ts":1735734600000}`, func(e Engagement) bool {
				return e.EventTs.Equal(e.EventTs.UTC()) && e.EventTs.UnixMilli() == 1735734600000 && !e.ContentID.Valid &&
					!e.UserID.Valid && !e.EventType.Valid && !e.DurationMs.Valid && !e.Device.Valid && e.RawPayload == nil
			}},
			"explicit nulls": {"", `{"id":42,"event_ts":"2025-01-01T12:30:00Z","content_id":null,"user_id":null,"event_type":null,"duration_ms":null,"device":null,"raw_payload":null}`,
				func(e Engagement) bool { return !e.ContentID.Valid && e.RawPayload == nil }},
			"jsonb as string": {"", `{"id":42,"event_ts":"2025-01-01T12:30:00Z","raw_payload":"{\"a\": \"\\u00e9\"}"}`,
				func(e Engagement) bool { return string(e.RawPayload) == `{"a": "\u00e9"}` }},
			"toast placeholder": {"", `{"id":42,"event_ts":"2025-01-01T12:30:00Z","raw_payload":"__debezium_unavailable_value"}`,
				func(e Engagement) bool { return e.RawPayload == nil }},
		} {
			ev, err := d.Engagement(ctx, []byte(tc.key), []byte(tc.value))
			if err != nil || ev.Kind != KindChange || ev.Op != OpCreate || !tc.check(ev.Event) {
				t.Errorf("%s: %+v %v", name, ev, err)
			}
		}
	})
	t.Run("engagement keys", func(t *testing.T) {
		for _, key := range []string{`{"id":7}`, `7`, `"7"`, `{"schema":{"type":"struct"},"payload":{"id":7}}`} {
			ev, err := d.Engagement(ctx, []byte(key), nil)
			if err != nil || ev.Kind != KindTombstone || ev.Event.ID != 7 {
				t.Errorf("key %s: %+v %v", key, ev, err)
			}
			ev, err = d.Engagement(ctx, []byte(key), []byte(`{"before":null,"after":null,`+engSrc+`,"op":"d"}`))
			if err != nil || ev.Kind != KindChange || ev.Op != OpDelete || ev.Event.ID != 7 {
				t.Errorf("delete, key %s: %+v %v", key, ev, err)
			}
		}
	})
	t.Run("delete without before uses key", func(t *testing.T) {
		ev, err := d.Content(ctx, []byte(goodKey), []byte(`{"before":null,"after":null,`+src+`,"op":"d"}`))
		if err != nil || ev.Op != OpDelete || ev.Key.String() != goodUUID || ev.Row.ID != ev.Key {
			t.Errorf("%+v %v", ev, err)
		}
	})
	t.Run("json null value is a tombstone", func(t *testing.T) {
		ev, err := d.Content(ctx, []byte(goodKey), []byte("null"))
		if err != nil || ev.Kind != KindTombstone || ev.Key.String() != goodUUID {
			t.Errorf("%+v %v", ev, err)
		}
	})
}
