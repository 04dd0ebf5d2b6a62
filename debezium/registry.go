package debezium

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/linkedin/goavro/v2"
	"github.com/thmanyah/enricher/registry"
)

// SchemaSource yields the Avro writer schema registered under an id.
//
// An error wrapping registry.ErrSchemaNotFound or
// registry.ErrSchemaUnsupported makes the record poison (*registry.Client is
// the production source). Any other error is taken as transient: a registry that
// cannot answer says nothing about the record.
type SchemaSource interface {
	SchemaByID(ctx context.Context, id int) (string, error)
}

// codec returns the compiled writer schema for id. Only successes are cached,
// so a schema registered after a failed lookup is found on the next record.
func (d *Decoder) codec(ctx context.Context, id int) (*goavro.Codec, error) {
	d.mu.RLock()
	c := d.codecs[id]
	d.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	schema, err := d.src.SchemaByID(ctx, id)
	if err != nil {
		poison := registry.Poison(err)
		return nil, &DecodeError{Reason: fmt.Sprintf("avro schema id %d", id), Err: err, Temporary: !poison}
	}
	c, err = goavro.NewCodec(schema)
	if err != nil {
		return nil, &DecodeError{Reason: fmt.Sprintf("avro schema id %d: invalid schema", id), Err: err}
	}
	d.mu.Lock()
	if prev := d.codecs[id]; prev != nil {
		c = prev // another goroutine won the race; keep one codec per id
	} else {
		d.codecs[id] = c
	}
	d.mu.Unlock()
	return c, nil
}

// isAvro reports whether b is in the Confluent wire format: magic byte 0 and
// a 4-byte schema id. JSON never starts with byte 0.
func isAvro(b []byte) bool { return len(b) >= 5 && b[0] == 0 }

// avroNative decodes one Confluent-framed Avro datum. what names the part
// ("content value") for error messages.
func (d *Decoder) avroNative(ctx context.Context, what string, b []byte) (any, error) {
	if d.src == nil {
		return nil, &DecodeError{Reason: "decode " + what + ": avro record but no schema registry configured"}
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	c, err := d.codec(ctx, id)
	if err != nil {
		de := err.(*DecodeError)
		de.Reason = "decode " + what + ": " + de.Reason
		return nil, de
	}
	native, rest, err := c.NativeFromBinary(b[5:])
	if err != nil {
		return nil, &DecodeError{Reason: fmt.Sprintf("decode %s: avro schema id %d", what, id), Err: err}
	}
	if len(rest) > 0 {
		return nil, &DecodeError{Reason: fmt.Sprintf("decode %s: avro schema id %d: %d bytes left after the datum (wrong schema?)", what, id, len(rest))}
	}
	return native, nil
}
