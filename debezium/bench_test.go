package debezium

import (
	"context"
	"encoding/json"
	"testing"
)

func jsonValid(b []byte) bool { return json.Valid(b) }

// The contract's plain JSON engagement event, as the backfill topic carries it.
const plainEvent = `{"id":42,"content_id":"c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03","user_id":"71c3a9e5-4b2d-4f8a-8e6c-2d9b0f1a3c57","event_type":"play","event_ts":"2025-01-01T12:30:00Z","duration_ms":12340,"device":"ios","raw_payload":{"source":"home_feed","app_version":"5.12.1","position_ms":0}}`

func benchEngagement(b *testing.B, key, value []byte) {
	d := NewDecoder(nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := d.Engagement(ctx, key, value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEngagementPlain(b *testing.B) {
	benchEngagement(b, []byte("42"), []byte(plainEvent))
}

func BenchmarkEngagementDebeziumJSON(b *testing.B) {
	for _, v := range []string{"plain", "schema", "unwrap-plain"} {
		b.Run(v, func(b *testing.B) {
			benchEngagement(b, readFixture(b, "engagement-create-jsonb."+v+".key.json"), readFixture(b, "engagement-create-jsonb."+v+".value.json"))
		})
	}
}

func benchContent(b *testing.B, key, value []byte) {
	d := NewDecoder(nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := d.Content(ctx, key, value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContentSchemaJSON(b *testing.B) {
	benchContent(b, readFixture(b, "content-create-arabic.schema.key.json"), readFixture(b, "content-create-arabic.schema.value.json"))
}

// BenchmarkContentJSON covers the JSON forms a content topic carries: a
// snapshot read as a bare envelope (what restoring the view reads, record
// after record) and in JsonConverter's wrapper, the ExtractNewRecordState
// row, bare and wrapped, and a TOAST update.
func BenchmarkContentJSON(b *testing.B) {
	for _, c := range []struct{ name, fixture string }{
		{"snapshot-plain", "content-snapshot-true.plain"},
		{"snapshot-schema", "content-snapshot-true.schema"},
		{"unwrap-plain", "content-snapshot-first.unwrap-plain"},
		{"unwrap-schema", "content-snapshot-first.unwrap-schema"},
		{"toast-plain", "content-update-toast.plain"},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchContent(b, readFixture(b, c.fixture+".key.json"), readFixture(b, c.fixture+".value.json"))
		})
	}
}

// BenchmarkContentAvro measures decoding with the codec cached, which is the
// steady state: the registry is asked once per schema id.
func BenchmarkContentAvro(b *testing.B) {
	key, value := readFixture(b, "content-create-arabic.avro.key.hex"), readFixture(b, "content-create-arabic.avro.value.hex")
	d := NewDecoder(fixtureSource(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := d.Content(ctx, key, value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngagementAvro is the hot path when the connector uses Avro.
func BenchmarkEngagementAvro(b *testing.B) {
	key, value := readFixture(b, "engagement-create-jsonb.avro.key.hex"), readFixture(b, "engagement-create-jsonb.avro.value.hex")
	d := NewDecoder(fixtureSource(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := d.Engagement(ctx, key, value); err != nil {
			b.Fatal(err)
		}
	}
}
