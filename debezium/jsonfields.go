package debezium

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
)

// The field types below decode one JSON value each. They exist because the
// standard types cannot tell absent from null, silently accept null for
// strings, and allocate for pointers; each records whether the field was
// present and whether it was null. Errors are *json.UnmarshalTypeError so that
// encoding/json adds the field path to them.

// seen records only that a field was present (used for "schema", whose
// content is not needed: skipping it is cheaper than copying it).
type seen bool

func (s *seen) UnmarshalJSON([]byte) error { *s = true; return nil }

type jText struct {
	set, null bool
	v         string
}

func (f *jText) UnmarshalJSON(b []byte) error {
	f.set, f.null = true, b[0] == 'n'
	if f.null {
		return nil
	}
	if b[0] != '"' {
		return typeErr(b, typeText)
	}
	if s, ok := intern(b[1 : len(b)-1]); ok {
		f.v = s
		return nil
	}
	f.v = unquoteString(b)
	return nil
}

func (f jText) valid() bool { return f.set && !f.null }

type jInt32 struct {
	set, null bool
	v         int32
}

func (f *jInt32) UnmarshalJSON(b []byte) error {
	f.set, f.null = true, b[0] == 'n'
	if f.null {
		return nil
	}
	n, ok := parseInt(b)
	if !ok || int64(int32(n)) != n {
		return typeErr(b, typeInt32)
	}
	f.v = int32(n)
	return nil
}

type jInt64 struct {
	set, null bool
	v         int64
}

func (f *jInt64) UnmarshalJSON(b []byte) error {
	f.set, f.null = true, b[0] == 'n'
	if f.null {
		return nil
	}
	n, ok := parseInt(b)
	if !ok {
		return typeErr(b, typeInt64)
	}
	f.v = n
	return nil
}

func (f jInt64) valid() bool { return f.set && !f.null }

type jUUID struct {
	set, null bool
	v         uuid.UUID
}

func (f *jUUID) UnmarshalJSON(b []byte) error {
	f.set, f.null = true, b[0] == 'n'
	if f.null {
		return nil
	}
	if b[0] != '"' {
		return typeErr(b, typeUUID)
	}
	s := b[1 : len(b)-1]
	u, err := parseUUID(s)
	if err != nil {
		s = unquote(b)
		if u, err = parseUUID(s); err != nil {
			return &json.UnmarshalTypeError{Value: "string " + quoteShort(s), Type: typeUUID}
		}
	}
	f.v = u
	return nil
}

// jKeyUUID is the id of a content key: a failure is kept, not returned, so
// that the key's own error message can name it.
type jKeyUUID struct {
	set, null bool
	v         uuid.UUID
	bad       []byte // the unparsable value, when not a uuid string
}

func (f *jKeyUUID) UnmarshalJSON(b []byte) error {
	f.set, f.null = true, b[0] == 'n'
	switch {
	case f.null:
	case b[0] != '"':
		f.bad = append([]byte(nil), b...)
	default:
		u, err := uuid.ParseBytes(b[1 : len(b)-1])
		if err != nil {
			s := unquote(b)
			if u, err = uuid.ParseBytes(s); err != nil {
				f.bad = append([]byte(nil), b...)
			}
		}
		f.v = u
	}
	return nil
}

func (f jKeyUUID) valid() bool { return f.set && !f.null }

// jTime accepts an RFC 3339 string (Debezium's ZonedTimestamp) or epoch
// milliseconds (the contract's plain event, and time.precision.mode=connect).
type jTime struct {
	set, null bool
	v         time.Time
}

func (f *jTime) UnmarshalJSON(b []byte) error {
	f.set, f.null = true, b[0] == 'n'
	switch {
	case f.null:
		return nil
	case b[0] == '"':
		t, ok := parseRFC3339(b[1 : len(b)-1])
		if !ok {
			return &json.UnmarshalTypeError{Value: "string " + quoteShort(unquote(b)), Type: typeTime}
		}
		f.v = t
	default:
		ms, ok := parseInt(b)
		if !ok {
			return typeErr(b, typeTime)
		}
		f.v = time.UnixMilli(ms).UTC()
	}
	return nil
}

// jRaw is a JSONB column: Debezium sends the JSON text as a string, the plain
// event may send the JSON value itself.
type jRaw struct {
	set, null bool
	v         []byte
}

func (f *jRaw) UnmarshalJSON(b []byte) error {
	f.set, f.null = true, b[0] == 'n'
	switch {
	case f.null:
		return nil
	case b[0] == '"':
		s := unquote(b)
		if string(s) == placeholder {
			f.null = true
			return nil
		}
		if !validJSON(s) {
			return &json.UnmarshalTypeError{Value: "string that is not JSON text: " + quoteShort(s), Type: typeRaw}
		}
		f.v = s
	default:
		f.v = append([]byte(nil), b...)
	}
	return nil
}

type jOp struct {
	set bool
	v   Op
}

func (f *jOp) UnmarshalJSON(b []byte) error {
	if b[0] == 'n' {
		return nil // a null op is treated as absent
	}
	if b[0] != '"' {
		return typeErr(b, typeOp)
	}
	s := b[1 : len(b)-1]
	if plainPrefix(s) != len(s) {
		s = unquote(b)
	}
	op, err := parseOp(s)
	f.set, f.v = true, op
	return err
}

func parseOp(s []byte) (Op, error) {
	if len(s) == 1 {
		switch op := Op(s[0]); op {
		case OpCreate, OpRead, OpUpdate, OpDelete, OpTruncate:
			return op, nil
		}
	}
	return 0, fmt.Errorf("unknown op %s", quoteShort(s))
}

// jFlag is ExtractNewRecordState's __deleted: the string "true" or "false"
// (a JSON boolean is accepted too).
type jFlag struct {
	set, v bool
}

func (f *jFlag) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		return nil
	case `"true"`, "true":
		f.set, f.v = true, true
	case `"false"`, "false":
		f.set = true
	default:
		return typeErr(b, typeFlag)
	}
	return nil
}

// typeErr reports the JSON value b where a want was expected.
func typeErr(b []byte, want reflect.Type) error {
	return &json.UnmarshalTypeError{Value: describe(b), Type: want}
}

// describe names a JSON value's type, with the value when it is short.
func describe(b []byte) string {
	switch b[0] {
	case '"':
		return "string " + quoteShort(unquote(b))
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number " + shorten(string(b))
}

func shorten(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

func quoteShort(b []byte) string { return fmt.Sprintf("%q", shorten(string(b))) }

// intern returns a shared string for values that recur in nearly every
// record, saving an allocation each. The switch on string(b) does not
// allocate.
func intern(b []byte) (string, bool) {
	switch string(b) {
	case "public":
		return "public", true
	case "content":
		return "content", true
	case "engagement_events":
		return "engagement_events", true
	case "thmanyah":
		return "thmanyah", true
	case "true":
		return "true", true
	case "false":
		return "false", true
	case "play":
		return "play", true
	case "pause":
		return "pause", true
	case "finish":
		return "finish", true
	case "click":
		return "click", true
	case "ios":
		return "ios", true
	case "android":
		return "android", true
	case "web":
		return "web", true
	case "podcast":
		return "podcast", true
	case "newsletter":
		return "newsletter", true
	case "video":
		return "video", true
	}
	return "", false
}
