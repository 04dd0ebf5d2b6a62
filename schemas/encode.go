package schemas

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/linkedin/goavro/v2"
)

// Subject is the Schema Registry subject of the output topic's values
// (TopicNameStrategy for processed_engagements).
const Subject = "processed_engagements-value"

// Output is one record of processed_engagements, field for field the schema
// ProcessedEngagement. An invalid Null* is written as Avro null.
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
// ProcessedEngagement. It is a writer specialised to that schema rather than
// goavro's generic one, which needs every value boxed into a map and costs
// about ten allocations and a microsecond a record: NewEncoder compiles the
// schema's fields into a plan of steps over Output's fields, and refuses a
// schema the plan does not cover exactly, so the bytes are goavro's (the
// differential tests and FuzzEncode hold it to that). It holds no mutable
// state, so it is safe for concurrent use.
type Encoder struct {
	header []byte // framing prefix, the same for every record
	plan   plan
}

// NewEncoder returns an Encoder for framing. schemaID is the Schema Registry
// id of ProcessedEngagement (see Register) with
// FramingConfluent, and must be 0 with FramingSingleObject so that a
// registry id is never silently dropped.
func NewEncoder(schemaID int, framing Framing) (*Encoder, error) {
	schema := ProcessedEngagement()
	// goavro stays the judge of what is valid Avro; the plan only of what the
	// writer covers.
	if _, err := goavro.NewCodec(schema); err != nil {
		return nil, fmt.Errorf("new encoder: parse output schema: %w", err)
	}
	p, err := compilePlan(schema)
	if err != nil {
		return nil, fmt.Errorf("new encoder: %w", err)
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
	return &Encoder{header: header, plan: p}, nil
}

// Append appends the framed encoding of o to dst and returns the extended
// slice. On error it returns dst unchanged, its spare capacity included. A
// string field that is not valid UTF-8 is an error: Avro strings are UTF-8,
// and some readers (python-avro) fail on anything else. A NULL field's value
// is neither checked nor written.
func (e *Encoder) Append(dst []byte, o *Output) ([]byte, error) {
	strs := [numStringSlots]*sql.NullString{
		slotContentID:   &o.ContentID,
		slotUserID:      &o.UserID,
		slotEventType:   &o.EventType,
		slotDevice:      &o.Device,
		slotContentType: &o.ContentType,
	}
	// All strings are checked before the first byte is written, so that a
	// failed record leaves nothing behind in dst.
	for i, s := range strs {
		if s.Valid && !utf8.ValidString(s.String) {
			return dst, fmt.Errorf("encode event %d: %s is not valid UTF-8: %q", o.EventID, stringFields[i], s.String)
		}
	}
	ints := [...]*sql.NullInt32{&o.DurationMs, &o.LengthSeconds}
	doubles := [...]*sql.NullFloat64{&o.EngagementSeconds, &o.EngagementPct}

	b := append(dst, e.header...)
	for _, s := range e.plan {
		switch s.op {
		case opLong:
			b = appendLong(b, o.EventID)
		case opTimestampMillis:
			// UnixMilli floors, as timestamp-millis needs for instants
			// before 1970.
			b = appendLong(b, o.EventTs.UnixMilli())
		case opOptString:
			v := strs[s.slot]
			if !v.Valid {
				b = append(b, unionUnset)
				break
			}
			b = appendLong(append(b, unionSet), int64(len(v.String)))
			b = append(b, v.String...)
		case opOptInt:
			v := ints[s.slot]
			if !v.Valid {
				b = append(b, unionUnset)
				break
			}
			// An int's zig-zag fits 32 bits, so as a long it is the same.
			b = appendLong(append(b, unionSet), int64(v.Int32))
		case opOptDouble:
			v := doubles[s.slot]
			if !v.Valid {
				b = append(b, unionUnset)
				break
			}
			// The bits as they are: goavro keeps NaN payloads and -0 too.
			b = binary.LittleEndian.AppendUint64(append(b, unionSet), math.Float64bits(v.Float64))
		}
	}
	return b, nil
}

// The union index of a ["null", T] field, already zig-zag encoded.
const (
	unionUnset = 0 // index 0
	unionSet   = 2 // index 1
)

// appendLong appends v as an Avro long: zig-zag, then a base-128 varint.
func appendLong(b []byte, v int64) []byte {
	return binary.AppendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

// Registrar registers a schema under a subject and returns its id;
// *registry.Client is one.
type Registrar interface {
	Register(ctx context.Context, subject, schema string) (int, error)
}

// Register registers ProcessedEngagement under Subject, or finds it
// registered, and returns its id. Calling it on every start is safe: the
// registry answers an identical schema with the existing id.
func Register(ctx context.Context, r Registrar) (int, error) {
	id, err := r.Register(ctx, Subject, ProcessedEngagement())
	if err != nil {
		return 0, fmt.Errorf("register output schema: %w", err)
	}
	return id, nil
}
