package schemas

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
// ProcessedEngagement. It is safe for concurrent use.
type Encoder struct {
	codec  *goavro.Codec
	header []byte // framing prefix, the same for every record
	// natives recycles the map goavro encodes from: building the 11-entry
	// map and its union wrappers afresh would dominate the cost of a record.
	natives sync.Pool
}

// NewEncoder returns an Encoder for framing. schemaID is the Schema Registry
// id of ProcessedEngagement (see Register) with
// FramingConfluent, and must be 0 with FramingSingleObject so that a
// registry id is never silently dropped.
func NewEncoder(schemaID int, framing Framing) (*Encoder, error) {
	schema := ProcessedEngagement()
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
	n := e.natives.Get().(*native)
	err := n.fill(o)
	out := dst
	if err == nil {
		out, err = e.codec.BinaryFromNative(append(dst, e.header...), n.record)
	}
	e.natives.Put(n)
	if err != nil {
		return dst, fmt.Errorf("encode event %d: %w", o.EventID, err)
	}
	return out, nil
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

// native is goavro's input for one record: the record map, in which goavro
// takes a union value as a one-entry map keyed by the branch type. Each
// nullable field keeps its wrapper map for the native's life, and a record
// entry is rewritten only when the field switches between NULL and set.
//
// The values themselves live in the typed fields below; fill boxes each into
// the maps (rebox). Boxing allocates for each string, double, long and most
// ints; a writer specialised to the schema (issue 15) removes that cost
// without the unsafe interface aliasing an earlier version used.
//
// A pooled native may keep the last record's values alive until its next
// use; they are a few short strings.
type native struct {
	record map[string]any

	eventID, eventTs int64
	strs             [5]string  // slotContentID..slotContentType
	ints             [2]int32   // slotDurationMs, slotLengthSeconds
	doubles          [2]float64 // slotEngagementSeconds, slotEngagementPct

	wraps [9]map[string]any // {branch: value}, by slot
	set   [9]bool           // record[field] holds wraps[slot] rather than nil
}

// Slots of the nullable fields, in the order fill validates the strings
// (which decides the error reported for a record with several bad ones).
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

var unionFields = [...]struct{ field, branch string }{
	slotContentID:         {"content_id", "string"},
	slotUserID:            {"user_id", "string"},
	slotEventType:         {"event_type", "string"},
	slotDevice:            {"device", "string"},
	slotContentType:       {"content_type", "string"},
	slotDurationMs:        {"duration_ms", "int"},
	slotLengthSeconds:     {"length_seconds", "int"},
	slotEngagementSeconds: {"engagement_seconds", "double"},
	slotEngagementPct:     {"engagement_pct", "double"},
}

func newNative() *native {
	n := &native{record: make(map[string]any, 11)}
	for i, f := range unionFields {
		n.wraps[i] = map[string]any{f.branch: nil}
		// goavro selects the null branch only for an untyped nil.
		n.record[f.field] = nil
	}
	return n
}

// fill makes n the native of o. On error (a string that is not valid UTF-8)
// n is left consistent, holding part of o, for the next fill to overwrite.
func (n *native) fill(o *Output) error {
	for i, s := range [...]*sql.NullString{
		slotContentID:   &o.ContentID,
		slotUserID:      &o.UserID,
		slotEventType:   &o.EventType,
		slotDevice:      &o.Device,
		slotContentType: &o.ContentType,
	} {
		if s.Valid && !utf8.ValidString(s.String) {
			return fmt.Errorf("%s is not valid UTF-8: %q", unionFields[i].field, s.String)
		}
		n.strs[i] = s.String
		n.setUnion(i, s.Valid)
	}
	n.eventID = o.EventID
	// UnixMilli floors, as timestamp-millis needs for instants before 1970.
	n.eventTs = o.EventTs.UnixMilli()
	n.ints[0], n.ints[1] = o.DurationMs.Int32, o.LengthSeconds.Int32
	n.setUnion(slotDurationMs, o.DurationMs.Valid)
	n.setUnion(slotLengthSeconds, o.LengthSeconds.Valid)
	n.doubles[0], n.doubles[1] = o.EngagementSeconds.Float64, o.EngagementPct.Float64
	n.setUnion(slotEngagementSeconds, o.EngagementSeconds.Valid)
	n.setUnion(slotEngagementPct, o.EngagementPct.Valid)
	n.rebox()
	return nil
}

// setUnion points the record entry of slot at its wrapper or at nil.
func (n *native) setUnion(slot int, valid bool) {
	if valid == n.set[slot] {
		return
	}
	n.set[slot] = valid
	if valid {
		n.record[unionFields[slot].field] = n.wraps[slot]
	} else {
		n.record[unionFields[slot].field] = nil
	}
}

// rebox copies the typed values into the maps.
func (n *native) rebox() {
	n.record["event_id"] = n.eventID
	n.record["event_ts"] = n.eventTs
	for i := range n.wraps {
		if !n.set[i] {
			continue
		}
		var v any
		switch {
		case i <= slotContentType:
			v = n.strs[i]
		case i <= slotLengthSeconds:
			v = n.ints[i-slotDurationMs]
		default:
			v = n.doubles[i-slotEngagementSeconds]
		}
		n.wraps[i][unionFields[i].branch] = v
	}
}
