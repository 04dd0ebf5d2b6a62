package debezium

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The fast path must be invisible: for every input, Engagement with it gives
// exactly what the encoding/json path gives, event for event and error text
// for error text (it hands every failure to the general path, so even the
// messages agree).

// sameAsGeneral decodes with and without the fast path and fails on any
// difference.
func sameAsGeneral(t *testing.T, d *Decoder, key, value []byte) {
	t.Helper()
	ctx := context.Background()
	want, wantErr := d.engagement(ctx, key, value, false)
	got, gotErr := d.engagement(ctx, key, value, true)
	switch {
	case (wantErr == nil) != (gotErr == nil):
		t.Fatalf("value %q\nfast path: %+v, %v\ngeneral:   %+v, %v", value, got, gotErr, want, wantErr)
	case wantErr != nil && wantErr.Error() != gotErr.Error():
		t.Fatalf("value %q\nfast path error: %v\ngeneral error:   %v", value, gotErr, wantErr)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("value %q\nfast path: %+v\ngeneral:   %+v", value, got, want)
	}
}

// engagementSeeds returns every engagement fixture's key and value (Avro
// ones included: the fast path must leave them alone) and plain events.
func engagementSeeds(t testing.TB) [][2][]byte {
	var out [][2][]byte
	for _, rec := range loadManifest(t) {
		if !strings.Contains(rec.Topic, "engagement_events") {
			continue
		}
		for _, v := range variants(rec) {
			files := rec.Files[v]
			out = append(out, [2][]byte{readFixture(t, files["key"]), readFixture(t, files["value"])})
		}
	}
	for _, v := range []string{
		plainEvent,
		goodEvent,
		`{"id":42,"content_id":"c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03","event_ts":1735734600000,"raw_payload":{"a":1}}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00.5+03:00","content_id":null,"user_id":null,"event_type":null,"duration_ms":null,"device":null,"raw_payload":null}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","raw_payload":"{\"a\": \"\\u00e9\"}","user_id":"{71C3A9E5-4B2D-4F8A-8E6C-2D9B0F1A3C57}"}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","event_type":"sk\u0069p","device":"tv \"4k\"","raw_payload":"__debezium_unavailable_value"}`,
		` {"schema":{"type":"struct"},"payload":{"id":7,"event_ts":0,"__op":"u","__source_lsn":9,"__txId":3,"__table":"engagement_events"}} `,
		`{"before":{"id":7},"after":null,"source":{"table":"engagement_events","lsn":1,"extra":[{}]},"op":"d","transaction":{"id":"x"}}`,
		`{"op":"t","source":{"table":"engagement_events"}}`,
		`{"ts_ms":123}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","__deleted":true,"op":"d"}`,
		`{"after":{"id":1,"event_ts":"2025-01-01T12:30:00Z","x":[1,{"y":"\ud83d\ude00"}]},"op":"r","__op":"c"}`,
		`{"Id":42,"event_ts":"2025-01-01T12:30:00Z"}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","ID":43}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","id":43}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","\u0069d":43}`,
		"{\"id\":42,\"event_ts\":\"2025-01-01T12:30:00Z\",\"\u212a\":1,\"ſource\":null}",
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","payload":{"id":1}}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","schema":null}`,
		`{"id":42,"event_ts":"2025-02-30T12:30:00Z"}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","raw_payload":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"id":42,"event_ts":"2025-01-01T12:30:00Z","raw_payload":{"a":1e5,"b":-0.5E-3,"c":[true,false,null,""]}}`,
		`{"id":-9223372036854775808,"event_ts":-1,"duration_ms":-2147483648}`,
		`{"after":{"id":1,"event_ts":"2025-01-01T12:30:00Z"},"source":null,"op":"c"}`,
		`{"after":{"id":1,"event_ts":"2025-01-01T12:30:00Z"},"source":"x","op":"c"}`,
		`{"after":{"id":1,"event_ts":"2025-01-01T12:30:00Z"},"op":"c","source":{"table":"content"}}`,
	} {
		out = append(out, [2][]byte{[]byte("42"), []byte(v)})
	}
	return out
}

// mutations returns value with one change each: bytes deleted, replaced and
// inserted, and the value cut short, at every position of a short value and
// at some 100 spread over a long one (fuzzing covers the rest).
func mutations(value []byte) [][]byte {
	special := []byte("\"\\{}[],: \tn0-e.Au\x00\x1f\x7f\x80\xff")
	var out [][]byte
	out = append(out, value)
	step := 1
	if len(value) > 320 {
		step = len(value) / 100
	} else if testing.Short() {
		step = 5
	}
	for i := 0; i < len(value); i += step {
		out = append(out, value[:i])
		out = append(out, append(bytes.Clone(value[:i]), value[i+1:]...))
		for _, c := range special {
			m := bytes.Clone(value)
			m[i] = c
			out = append(out, m)
			out = append(out, append(append(bytes.Clone(value[:i]), c), value[i:]...))
		}
	}
	return out
}

func TestEngagementFastPathAgrees(t *testing.T) {
	d := NewDecoder(fixtureSource(t))
	for _, seed := range engagementSeeds(t) {
		key, value := seed[0], seed[1]
		for _, m := range mutations(value) {
			sameAsGeneral(t, d, key, m)
		}
	}
}

// TestEngagementFastPathTaken guards the speed: the forms the hot path sees
// must not quietly fall back to encoding/json.
func TestEngagementFastPathTaken(t *testing.T) {
	taken := map[string]bool{"plain event": false}
	if fastEngagement([]byte(plainEvent), new(EngagementEvent)) {
		taken["plain event"] = true
	}
	for _, rec := range loadManifest(t) {
		if !strings.Contains(rec.Topic, "engagement_events") {
			continue
		}
		for _, v := range variants(rec) {
			value := readFixture(t, rec.Files[v]["value"])
			if v == "avro" || value == nil {
				continue
			}
			// A delete without before image needs the key: the general path.
			ok := fastEngagement(value, new(EngagementEvent))
			taken[rec.Name+"."+v] = ok || rec.Op != nil && *rec.Op == "d" && strings.Contains(string(value), `"before":null`)
		}
	}
	for name, ok := range taken {
		if !ok {
			t.Errorf("%s takes the general path", name)
		}
	}
}

func TestValidJSONAgrees(t *testing.T) {
	for _, seed := range engagementSeeds(t) {
		for _, m := range mutations(seed[1]) {
			if got, want := validJSON(m), json.Valid(m); got != want {
				t.Fatalf("validJSON(%q) = %t, json.Valid says %t", m, got, want)
			}
		}
	}
}

func FuzzEngagementFastPath(f *testing.F) {
	for _, seed := range engagementSeeds(f) {
		f.Add(seed[0], seed[1])
	}
	d := NewDecoder(fixtureSource(f))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		sameAsGeneral(t, d, key, value)
		if got, want := validJSON(value), json.Valid(value); got != want {
			t.Fatalf("validJSON(%q) = %t, json.Valid says %t", value, got, want)
		}
	})
}
