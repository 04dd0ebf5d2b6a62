// Package dbztest writes content change records the way Debezium does, in
// every converter form the service accepts, for tests that need thousands of
// them. The shapes follow the golden fixtures (internal/fixtures), whose
// schemas it reuses, so a drift in one shows in the other's tests.
package dbztest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/linkedin/goavro/v2"

	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/internal/fixtures"
)

// Form is a converter configuration.
type Form int

const (
	FormSchema       Form = iota // JsonConverter, schemas.enable=true
	FormPlain                    // JsonConverter, schemas.enable=false
	FormUnwrapSchema             // ExtractNewRecordState, with schemas
	FormUnwrapPlain              // ExtractNewRecordState, without schemas
	FormAvro                     // AvroConverter, Confluent wire format
	NumForms
)

func (f Form) String() string {
	return [...]string{"schema", "plain", "unwrap-schema", "unwrap-plain", "avro"}[f]
}

// Schema Registry ids the fixtures use for the content key and value schemas.
const (
	ContentKeyID   = 1
	ContentValueID = 2
)

// Content is a content row.
type Content struct {
	ID            uuid.UUID
	Slug, Title   string
	ContentType   *string
	LengthSeconds *int32
	PublishTS     time.Time
}

// Source is what a record says of its Postgres origin.
type Source struct {
	LSN  int64
	TsMs int64
	TxID int64
}

// Writer builds records. The zero value is not usable; use New.
type Writer struct {
	keySchema, valueSchema, unwrapSchema json.RawMessage
	keyCodec, valueCodec                 *goavro.Codec
}

// New loads the schemas from the fixtures.
func New() (*Writer, error) {
	w := &Writer{}
	for _, s := range []struct {
		file string
		dst  *json.RawMessage
	}{
		{"content-update.schema.key.json", &w.keySchema},
		{"content-update.schema.value.json", &w.valueSchema},
		{"content-update.unwrap-schema.value.json", &w.unwrapSchema},
	} {
		b, err := fixtures.Read(s.file)
		if err != nil {
			return nil, err
		}
		var env struct{ Schema json.RawMessage }
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, fmt.Errorf("%s: %w", s.file, err)
		}
		*s.dst = env.Schema
	}
	var err error
	if w.keyCodec, err = codec("content.key.avsc"); err != nil {
		return nil, err
	}
	if w.valueCodec, err = codec("content.value.avsc"); err != nil {
		return nil, err
	}
	return w, nil
}

func codec(file string) (*goavro.Codec, error) {
	b, err := fixtures.Read(file)
	if err != nil {
		return nil, err
	}
	return goavro.NewCodec(string(b))
}

// AvroSchema returns a fixture schema's text, for seeding a registry.
func AvroSchema(file string) string {
	b, err := fixtures.Read(file)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type rowJSON = debezium.ContentRowJSON

type unwrapJSON struct {
	rowJSON
	Deleted  string `json:"__deleted"`
	Op       string `json:"__op"`
	SourceTs int64  `json:"__source_ts_ms"`
}

type (
	sourceJSON   = debezium.SourceJSON
	envelopeJSON = debezium.ContentEnvelopeJSON
)

func toRow(c *Content) *rowJSON {
	if c == nil {
		return nil
	}
	return &rowJSON{ID: c.ID.String(), Slug: c.Slug, Title: c.Title, ContentType: c.ContentType,
		LengthSeconds: c.LengthSeconds, PublishTS: c.PublishTS.UTC().Format(debezium.ZonedTimestampLayout)}
}

func source(s Source, table string) sourceJSON {
	return sourceJSON{Version: "2.7.4.Final", Connector: "postgresql", Name: "thmanyah", TsMs: s.TsMs,
		Snapshot: "false", DB: "thmanyah", Sequence: fmt.Sprintf(`[null,"%d"]`, s.LSN),
		TsUs: s.TsMs * 1000, TsNs: s.TsMs * 1_000_000, Schema: "public", Table: table, TxID: s.TxID, LSN: s.LSN}
}

// Key returns the Kafka key of a content row in form f.
func (w *Writer) Key(f Form, id uuid.UUID) []byte {
	switch f {
	case FormAvro:
		b, err := w.keyCodec.BinaryFromNative(confluent(ContentKeyID), map[string]any{"id": id.String()})
		if err != nil {
			panic(err)
		}
		return b
	case FormSchema, FormUnwrapSchema:
		return mustJSON(map[string]any{"schema": w.keySchema, "payload": map[string]string{"id": id.String()}})
	default:
		return mustJSON(map[string]string{"id": id.String()})
	}
}

// Change returns the value of a change record: op is 'c', 'r', 'u' or 'd';
// row is the after image (the before image for 'd').
func (w *Writer) Change(f Form, op byte, row *Content, src Source) []byte {
	var before, after *Content
	if op == 'd' {
		before = row
	} else {
		after = row
	}
	switch f {
	case FormUnwrapSchema, FormUnwrapPlain:
		u := unwrapJSON{rowJSON: *toRow(row), Deleted: strconv.FormatBool(op == 'd'), Op: string(op), SourceTs: src.TsMs}
		if f == FormUnwrapSchema {
			return mustJSON(map[string]any{"schema": w.unwrapSchema, "payload": u})
		}
		return mustJSON(u)
	case FormAvro:
		return w.avro(op, before, after, src)
	}
	env := envelopeJSON{Before: toRow(before), After: toRow(after), Source: source(src, "content"), Op: string(op),
		TsMs: src.TsMs + 300, TsUs: (src.TsMs + 300) * 1000, TsNs: (src.TsMs + 300) * 1_000_000}
	if f == FormSchema {
		return mustJSON(map[string]any{"schema": w.valueSchema, "payload": env})
	}
	return mustJSON(env)
}

// Truncate returns the value of a truncate record (its key is null), in the
// envelope forms; ExtractNewRecordState drops truncates.
func (w *Writer) Truncate(f Form, src Source) []byte {
	if f == FormAvro {
		return w.avro('t', nil, nil, src)
	}
	env := envelopeJSON{Source: source(src, "content"), Op: "t", TsMs: src.TsMs + 300}
	if f == FormSchema {
		return mustJSON(map[string]any{"schema": w.valueSchema, "payload": env})
	}
	return mustJSON(env)
}

func (w *Writer) avro(op byte, before, after *Content, src Source) []byte {
	s := source(src, "content")
	native := map[string]any{
		"before": avroRow(before),
		"after":  avroRow(after),
		"source": map[string]any{
			"version": s.Version, "connector": s.Connector, "name": s.Name, "ts_ms": s.TsMs,
			"snapshot": goavro.Union("string", s.Snapshot), "db": s.DB,
			"sequence": goavro.Union("string", s.Sequence), "ts_us": goavro.Union("long", s.TsUs),
			"ts_ns": goavro.Union("long", s.TsNs), "schema": s.Schema, "table": s.Table,
			"txId": goavro.Union("long", s.TxID), "lsn": goavro.Union("long", s.LSN), "xmin": nil,
		},
		"transaction": nil,
		"op":          string(op),
		"ts_ms":       goavro.Union("long", src.TsMs+300),
		"ts_us":       nil,
		"ts_ns":       nil,
	}
	b, err := w.valueCodec.BinaryFromNative(confluent(ContentValueID), native)
	if err != nil {
		panic(err)
	}
	return b
}

func avroRow(c *Content) any {
	if c == nil {
		return nil
	}
	r := toRow(c)
	m := map[string]any{"id": r.ID, "slug": r.Slug, "title": r.Title, "content_type": nil, "length_seconds": nil, "publish_ts": r.PublishTS}
	if c.ContentType != nil {
		m["content_type"] = goavro.Union("string", *c.ContentType)
	}
	if c.LengthSeconds != nil {
		m["length_seconds"] = goavro.Union("int", *c.LengthSeconds)
	}
	return goavro.Union("thmanyah.public.content.Value", m)
}

func confluent(id int) []byte {
	b := make([]byte, 5, 256)
	binary.BigEndian.PutUint32(b[1:], uint32(id))
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
