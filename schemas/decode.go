package schemas

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/thmanyah/enricher/registry"
)

// SchemaSource fetches a writer schema by its registry id; the debezium
// package's registry adapter is one.
type SchemaSource interface {
	SchemaByID(ctx context.Context, id int) (string, error)
}

// ErrNotOutput marks bytes that are not a processed_engagements record in
// either framing: poison for a consumer, never worth a retry.
var ErrNotOutput = errors.New("not a processed_engagements record")

// Decoder reads processed_engagements records in both framings, for the
// sinks. With Confluent framing it decodes with the writer schema fetched by
// id (cached), so records of a later schema version still decode; without a
// registry it assumes the embedded schema and rejects records it cannot
// consume exactly.
type Decoder struct {
	src         SchemaSource
	own         *goavro.Codec
	fingerprint uint64
	mu          sync.Mutex
	codecs      map[uint32]*goavro.Codec
}

// NewDecoder returns a decoder; src may be nil.
func NewDecoder(src SchemaSource) (*Decoder, error) {
	own, err := goavro.NewCodec(ProcessedEngagement())
	if err != nil {
		return nil, err
	}
	pcf, err := CanonicalForm(ProcessedEngagement())
	if err != nil {
		return nil, err
	}
	return &Decoder{src: src, own: own, fingerprint: Fingerprint64([]byte(pcf)), codecs: map[uint32]*goavro.Codec{}}, nil
}

// Decode decodes one record value. Errors wrapping ErrNotOutput are poison;
// others (the registry unreachable) are worth retrying.
func (d *Decoder) Decode(ctx context.Context, v []byte) (Output, error) {
	var codec *goavro.Codec
	switch {
	case len(v) >= 10 && v[0] == 0xC3 && v[1] == 0x01:
		if fp := binary.LittleEndian.Uint64(v[2:10]); fp != d.fingerprint {
			return Output{}, fmt.Errorf("%w: single-object fingerprint %016x is not the schema's %016x", ErrNotOutput, fp, d.fingerprint)
		}
		codec, v = d.own, v[10:]
	case len(v) >= 5 && v[0] == 0:
		id := binary.BigEndian.Uint32(v[1:5])
		var err error
		if codec, err = d.codec(ctx, id); err != nil {
			return Output{}, err
		}
		v = v[5:]
	default:
		return Output{}, fmt.Errorf("%w: no Avro framing", ErrNotOutput)
	}
	native, rest, err := codec.NativeFromBinary(v)
	if err != nil {
		return Output{}, fmt.Errorf("%w: %v", ErrNotOutput, err)
	}
	if len(rest) != 0 {
		return Output{}, fmt.Errorf("%w: %d bytes after the record", ErrNotOutput, len(rest))
	}
	m, ok := native.(map[string]any)
	if !ok {
		return Output{}, fmt.Errorf("%w: not a record", ErrNotOutput)
	}
	return fromNative(m)
}

func (d *Decoder) codec(ctx context.Context, id uint32) (*goavro.Codec, error) {
	d.mu.Lock()
	c, ok := d.codecs[id]
	d.mu.Unlock()
	if ok {
		return c, nil
	}
	if d.src == nil {
		return d.own, nil // no registry: the embedded schema, checked by the trailing-bytes rule
	}
	schema, err := d.src.SchemaByID(ctx, int(id))
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	if c, err = goavro.NewCodec(schema); err != nil {
		return nil, fmt.Errorf("%w: schema id %d: %v", ErrNotOutput, id, err)
	}
	d.mu.Lock()
	d.codecs[id] = c
	d.mu.Unlock()
	return c, nil
}

func fromNative(m map[string]any) (Output, error) {
	var o Output
	id, ok := m["event_id"].(int64)
	if !ok {
		return o, fmt.Errorf("%w: event_id missing", ErrNotOutput)
	}
	o.EventID = id
	if o.EventTs, ok = m["event_ts"].(time.Time); !ok {
		return o, fmt.Errorf("%w: event_ts missing", ErrNotOutput)
	}
	o.EventTs = o.EventTs.UTC()
	o.ContentID = nullString(m["content_id"])
	o.UserID = nullString(m["user_id"])
	o.EventType = nullString(m["event_type"])
	o.Device = nullString(m["device"])
	o.ContentType = nullString(m["content_type"])
	o.DurationMs = nullInt(m["duration_ms"])
	o.LengthSeconds = nullInt(m["length_seconds"])
	o.EngagementSeconds = nullDouble(m["engagement_seconds"])
	o.EngagementPct = nullDouble(m["engagement_pct"])
	return o, nil
}

func unionValue(v any, branch string) (any, bool) {
	u, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	x, ok := u[branch]
	return x, ok
}

func nullString(v any) sql.NullString {
	if x, ok := unionValue(v, "string"); ok {
		s, _ := x.(string)
		return sql.NullString{String: s, Valid: true}
	}
	return sql.NullString{}
}

func nullInt(v any) sql.NullInt32 {
	if x, ok := unionValue(v, "int"); ok {
		i, _ := x.(int32)
		return sql.NullInt32{Int32: i, Valid: true}
	}
	return sql.NullInt32{}
}

func nullDouble(v any) sql.NullFloat64 {
	if x, ok := unionValue(v, "double"); ok {
		f, _ := x.(float64)
		return sql.NullFloat64{Float64: f, Valid: true}
	}
	return sql.NullFloat64{}
}

// Poison reports whether a Decode error is the record's fault, so that
// retrying cannot help and the record belongs in the DLQ; any other error
// (the registry unreachable) is worth retrying.
func Poison(err error) bool {
	return errors.Is(err, ErrNotOutput) || registry.Poison(err)
}
