package enricher

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/thmanyah/enricher/schemas"
)

// Subject is the Schema Registry subject of the output topic's values
// (TopicNameStrategy for processed_engagements).
const Subject = "processed_engagements-value"

// Output is one record of processed_engagements, field for field the schema
// schemas.ProcessedEngagement. An invalid Null* is written as Avro null.
type Output struct {
	EventID           int64
	ContentID         sql.NullString // canonical lowercase UUID
	UserID            sql.NullString
	EventType         sql.NullString
	EventTs           time.Time // written as whole milliseconds, rounded down
	DurationMs        sql.NullInt32
	Device            sql.NullString
	ContentType       sql.NullString
	LengthSeconds     sql.NullInt32
	EngagementSeconds sql.NullFloat64
	EngagementPct     sql.NullFloat64
}

// Framing is how an encoded record announces its writer schema.
type Framing int

const (
	// FramingSingleObject is Avro single-object encoding: C3 01, the 8-byte
	// little-endian CRC-64-AVRO fingerprint of the schema's Parsing
	// Canonical Form, then the Avro binary body. Used with no Schema
	// Registry, so it is the zero value.
	FramingSingleObject Framing = iota
	// FramingConfluent is the Confluent wire format: byte 0, the 4-byte
	// big-endian Schema Registry id, then the Avro binary body.
	FramingConfluent
)

func (f Framing) String() string {
	switch f {
	case FramingSingleObject:
		return "single-object"
	case FramingConfluent:
		return "confluent"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// Encoder writes Output records as framed Avro binary in the schema
// schemas.ProcessedEngagement. It is safe for concurrent use.
type Encoder struct {
	codec  *goavro.Codec
	header []byte // framing prefix, the same for every record
	// natives recycles the map goavro encodes from: building the 11-entry
	// map and its union wrappers afresh would dominate the cost of a record.
	natives sync.Pool
}

// NewEncoder returns an Encoder for framing. schemaID is the Schema Registry
// id of schemas.ProcessedEngagement (see RegisterSchema) with
// FramingConfluent, and must be 0 with FramingSingleObject so that a
// registry id is never silently dropped.
func NewEncoder(schemaID int, framing Framing) (*Encoder, error) {
	schema := schemas.ProcessedEngagement()
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		return nil, fmt.Errorf("new encoder: parse output schema: %w", err)
	}
	var header []byte
	switch framing {
	case FramingConfluent:
		// Confluent clients read the id as a signed 32-bit integer.
		if schemaID <= 0 || schemaID > math.MaxInt32 {
			return nil, fmt.Errorf("new encoder: schema id %d out of range 1..%d", schemaID, math.MaxInt32)
		}
		header = binary.BigEndian.AppendUint32([]byte{0}, uint32(schemaID))
	case FramingSingleObject:
		if schemaID != 0 {
			return nil, fmt.Errorf("new encoder: schema id %d given with single-object framing, which carries a fingerprint instead", schemaID)
		}
		pcf, err := CanonicalForm(schema)
		if err != nil {
			return nil, fmt.Errorf("new encoder: %w", err)
		}
		header = binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, Fingerprint64([]byte(pcf)))
	default:
		return nil, fmt.Errorf("new encoder: unknown framing %v", framing)
	}
	e := &Encoder{codec: codec, header: header}
	e.natives.New = func() any { return newNative() }
	return e, nil
}

// Append appends the framed encoding of o to dst and returns the extended
// slice. On error it returns dst unchanged. A string field that is not valid
// UTF-8 is an error: Avro strings are UTF-8, and some readers (python-avro)
// fail on anything else.
func (e *Encoder) Append(dst []byte, o *Output) ([]byte, error) {
	if err := checkUTF8(o); err != nil {
		return dst, fmt.Errorf("encode event %d: %w", o.EventID, err)
	}
	n := e.natives.Get().(*native)
	n.fill(o)
	out, err := e.codec.BinaryFromNative(append(dst, e.header...), n.record)
	e.natives.Put(n)
	if err != nil {
		return dst, fmt.Errorf("encode event %d: %w", o.EventID, err)
	}
	return out, nil
}

// RegisterSchema registers schemas.ProcessedEngagement under subject, or
// finds it registered, and returns its id. The registry answers an identical
// schema with the existing id and creates no new version, so calling this on
// every start is safe. It makes one request, where sr.Client.CreateSchema
// would make two or more to fetch details nobody here needs.
func RegisterSchema(ctx context.Context, c *sr.Client, subject string) (id int, err error) {
	s := sr.Schema{Schema: schemas.ProcessedEngagement(), Type: sr.TypeAvro}
	id, err = c.RegisterSchema(ctx, subject, s, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("register output schema under %s: %w", subject, err)
	}
	return id, nil
}

func checkUTF8(o *Output) error {
	for _, f := range [...]struct {
		name string
		v    sql.NullString
	}{
		{"content_id", o.ContentID},
		{"user_id", o.UserID},
		{"event_type", o.EventType},
		{"device", o.Device},
		{"content_type", o.ContentType},
	} {
		if f.v.Valid && !utf8.ValidString(f.v.String) {
			return fmt.Errorf("%s is not valid UTF-8: %q", f.name, f.v.String)
		}
	}
	return nil
}

// native is goavro's input for one record. goavro takes a union value as a
// one-entry map keyed by the branch type, so each nullable field keeps its
// wrapper map and only the value inside changes. Map writes dominate the cost
// of a record, so a record entry is rewritten only when the field switches
// between NULL and set. A pooled native may keep the last record's values
// alive until its next use; they are a few short strings.
type native struct {
	record map[string]any
	slots  [9]unionSlot
}

// Indexes into native.slots.
const (
	slotContentID = iota
	slotUserID
	slotEventType
	slotDevice
	slotContentType
	slotDurationMs
	slotLengthSeconds
	slotEngagementSeconds
	slotEngagementPct
)

type unionSlot struct {
	field, branch string
	wrap          map[string]any // {branch: value}
	set           bool           // record[field] holds wrap rather than nil
}

func newNative() *native {
	n := &native{record: make(map[string]any, 11)}
	for i, f := range [...]struct{ field, branch string }{
		slotContentID:         {"content_id", "string"},
		slotUserID:            {"user_id", "string"},
		slotEventType:         {"event_type", "string"},
		slotDevice:            {"device", "string"},
		slotContentType:       {"content_type", "string"},
		slotDurationMs:        {"duration_ms", "int"},
		slotLengthSeconds:     {"length_seconds", "int"},
		slotEngagementSeconds: {"engagement_seconds", "double"},
		slotEngagementPct:     {"engagement_pct", "double"},
	} {
		n.slots[i] = unionSlot{field: f.field, branch: f.branch, wrap: make(map[string]any, 1)}
		// goavro selects the null branch only for an untyped nil.
		n.record[f.field] = nil
	}
	return n
}

func (n *native) fill(o *Output) {
	r := n.record
	r["event_id"] = o.EventID
	// UnixMilli floors, as timestamp-millis needs for instants before 1970.
	r["event_ts"] = o.EventTs.UnixMilli()
	put(&n.slots[slotContentID], r, o.ContentID.String, o.ContentID.Valid)
	put(&n.slots[slotUserID], r, o.UserID.String, o.UserID.Valid)
	put(&n.slots[slotEventType], r, o.EventType.String, o.EventType.Valid)
	put(&n.slots[slotDevice], r, o.Device.String, o.Device.Valid)
	put(&n.slots[slotContentType], r, o.ContentType.String, o.ContentType.Valid)
	put(&n.slots[slotDurationMs], r, o.DurationMs.Int32, o.DurationMs.Valid)
	put(&n.slots[slotLengthSeconds], r, o.LengthSeconds.Int32, o.LengthSeconds.Valid)
	put(&n.slots[slotEngagementSeconds], r, o.EngagementSeconds.Float64, o.EngagementSeconds.Valid)
	put(&n.slots[slotEngagementPct], r, o.EngagementPct.Float64, o.EngagementPct.Valid)
}

func put[T string | int32 | float64](s *unionSlot, record map[string]any, v T, valid bool) {
	if !valid {
		if s.set {
			record[s.field] = nil
			s.set = false
		}
		return
	}
	s.wrap[s.branch] = v
	if !s.set {
		record[s.field] = s.wrap
		s.set = true
	}
}
