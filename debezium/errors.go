package debezium

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
)

// DecodeError is every error the Decoder returns.
type DecodeError struct {
	// Reason says what failed, e.g. `decode content value: field "slug"`.
	Reason string
	// Err is the cause; nil when Reason says it all.
	Err error
	// Temporary is true when the failure is not the record's fault (the
	// schema registry is unreachable or failing): retry the same record.
	Temporary bool
}

func (e *DecodeError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Retryable reports whether err is transient: only then can the same record
// succeed later. Everything else is poison.
func Retryable(err error) bool {
	var de *DecodeError
	return errors.As(err, &de) && de.Temporary
}

// fieldError is a type or value error in one named column or field.
type fieldError struct {
	path string // dotted, e.g. "after.length_seconds"
	msg  string // e.g. "want int32, got string"
}

func (e *fieldError) Error() string {
	name, parent := e.path, ""
	if i := strings.LastIndexByte(e.path, '.'); i >= 0 {
		parent, name = e.path[:i], e.path[i+1:]
	}
	if parent != "" {
		return fmt.Sprintf("%s: field %q: %s", parent, name, e.msg)
	}
	return fmt.Sprintf("field %q: %s", name, e.msg)
}

// Sentinel reflect types name the expectation in type errors produced by the
// field unmarshalers below.
var (
	typeUUID  = reflect.TypeFor[uuid.UUID]()
	typeTime  = reflect.TypeFor[time.Time]()
	typeRaw   = reflect.TypeFor[json.RawMessage]()
	typeOp    = reflect.TypeFor[Op]()
	typeFlag  = reflect.TypeFor[bool]()
	typeInt32 = reflect.TypeFor[int32]()
	typeInt64 = reflect.TypeFor[int64]()
	typeText  = reflect.TypeFor[string]()
)

func wantName(t reflect.Type) string {
	switch t {
	case typeUUID:
		return "uuid string"
	case typeTime:
		return "timestamp (RFC 3339 string or epoch milliseconds)"
	case typeRaw:
		return "JSON"
	case typeOp:
		return "op string"
	case typeFlag:
		return `"true" or "false"`
	case nil:
		return "value"
	}
	if t.Kind() == reflect.Struct || t.Kind() == reflect.Pointer {
		return "object" // a before/after image or the source block
	}
	return t.String()
}

// jsonPath turns encoding/json's field path into the record's: without the
// JsonConverter wrapper and the Go names of embedded structs that
// encoding/json includes.
func jsonPath(field string) string {
	parts := strings.Split(field, ".")
	out := parts[:0]
	for i, p := range parts {
		switch {
		case i == 0 && p == "payload":
		case p == "contentRow", p == "engagementRow", p == "envelopeFields":
		default:
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

// jsonError turns an encoding/json failure into a precise message.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		path := jsonPath(te.Field)
		if path == "" {
			return fmt.Errorf("value is not a debezium envelope, flattened row or heartbeat: got JSON %s", te.Value)
		}
		if te.Type == typeUUID && strings.HasPrefix(te.Value, "string ") {
			return &fieldError{path, te.Value[len("string "):] + " is not a uuid"}
		}
		return &fieldError{path, "want " + wantName(te.Type) + ", got " + te.Value}
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at offset %d: %v", se.Offset, se)
	}
	return err
}
