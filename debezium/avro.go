package debezium

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// goavro's native form: records are map[string]any, a union value is a
// one-entry map from branch name to value ({"string":"x"}), null is nil.
// Conversion fills the same doc types as JSON, so the same rules apply; the
// record and branch names are not checked, only field names and types.

func avroMap(v any, path string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &fieldError{path, "want record, got " + avroTypeName(v)}
	}
	if len(m) == 1 {
		for _, inner := range m {
			if r, ok := inner.(map[string]any); ok {
				return r, nil // union branch holding the record
			}
		}
	}
	return m, nil
}

// avroScalar strips a union wrapper around a non-record value.
func avroScalar(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, inner := range m {
			return inner
		}
	}
	return v
}

func avroTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case int32:
		return "int"
	case int64:
		return "long"
	case float32:
		return "float"
	case float64:
		return "double"
	case bool:
		return "boolean"
	case []byte:
		return "bytes"
	case map[string]any:
		return "record or map"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func want(path, w string, v any) error {
	return &fieldError{path, "want " + w + ", got " + avroTypeName(v)}
}

func avroText(v any, path string) (f jText, err error) {
	f.set = true
	switch x := avroScalar(v).(type) {
	case nil:
		f.null = true
	case string:
		f.v = x
	default:
		return f, want(path, "string", x)
	}
	return f, nil
}

func avroInt64(v any, path string) (f jInt64, err error) {
	f.set = true
	switch x := avroScalar(v).(type) {
	case nil:
		f.null = true
	case int64:
		f.v = x
	case int32:
		f.v = int64(x)
	default:
		return f, want(path, "int64", x)
	}
	return f, nil
}

func avroInt32(v any, path string) (f jInt32, err error) {
	f.set = true
	switch x := avroScalar(v).(type) {
	case nil:
		f.null = true
	case int32:
		f.v = x
	case int64:
		if int64(int32(x)) != x {
			return f, &fieldError{path, fmt.Sprintf("want int32, got long %d", x)}
		}
		f.v = int32(x)
	default:
		return f, want(path, "int32", x)
	}
	return f, nil
}

func avroUUID(v any, path string) (f jUUID, err error) {
	f.set = true
	switch x := avroScalar(v).(type) {
	case nil:
		f.null = true
	case string:
		if f.v, err = uuid.Parse(x); err != nil {
			return f, &fieldError{path, quoteShort([]byte(x)) + " is not a uuid"}
		}
	default:
		return f, want(path, "uuid string", x)
	}
	return f, nil
}

func avroTime(v any, path string) (f jTime, err error) {
	f.set = true
	switch x := avroScalar(v).(type) {
	case nil:
		f.null = true
	case string:
		t, ok := parseRFC3339([]byte(x))
		if !ok {
			return f, &fieldError{path, "want timestamp (RFC 3339), got string " + quoteShort([]byte(x))}
		}
		f.v = t
	case int64: // timestamp-millis without the logical type applied
		f.v = time.UnixMilli(x).UTC()
	case time.Time: // timestamp-millis/micros logical types
		f.v = x.UTC().Round(time.Microsecond)
	default:
		return f, want(path, "timestamp", x)
	}
	return f, nil
}

func avroRaw(v any, path string) (f jRaw, err error) {
	f.set = true
	switch x := avroScalar(v).(type) {
	case nil:
		f.null = true
	case string:
		switch {
		case x == placeholder:
			f.null = true
		case !json.Valid([]byte(x)):
			return f, &fieldError{path, "want JSON, got string that is not JSON text: " + quoteShort([]byte(x))}
		default:
			f.v = []byte(x)
		}
	default:
		return f, want(path, "JSON string", x)
	}
	return f, nil
}

func avroOp(v any, path string) (f jOp, err error) {
	switch x := avroScalar(v).(type) {
	case nil:
	case string:
		f.set = true
		f.v, err = parseOp([]byte(x))
	default:
		return f, want(path, "op string", x)
	}
	return f, err
}

func avroFlag(v any, path string) (f jFlag, err error) {
	switch x := avroScalar(v).(type) {
	case nil:
	case bool:
		f.set, f.v = true, x
	case string:
		if x != "true" && x != "false" {
			return f, &fieldError{path, `want "true" or "false", got ` + quoteShort([]byte(x))}
		}
		f.set, f.v = true, x == "true"
	default:
		return f, want(path, `"true" or "false"`, x)
	}
	return f, nil
}

// avroSet runs conv on m[name] when the field exists, naming it in errors.
func avroSet[T any](m map[string]any, path, name string, dst *T, conv func(any, string) (T, error)) error {
	v, ok := m[name]
	if !ok {
		return nil
	}
	x, err := conv(v, join(path, name))
	if err != nil {
		return err
	}
	*dst = x
	return nil
}

func avroSource(v any) (*sourceJSON, error) {
	if v == nil {
		return nil, nil
	}
	m, err := avroMap(v, "source")
	if err != nil {
		return nil, err
	}
	s := new(sourceJSON)
	for _, e := range []error{
		avroSet(m, "source", "name", &s.Name, avroText),
		avroSet(m, "source", "db", &s.DB, avroText),
		avroSet(m, "source", "schema", &s.Schema, avroText),
		avroSet(m, "source", "table", &s.Table, avroText),
		avroSet(m, "source", "snapshot", &s.Snapshot, avroText),
		avroSet(m, "source", "ts_ms", &s.TsMs, avroInt64),
		avroSet(m, "source", "lsn", &s.LSN, avroInt64),
		avroSet(m, "source", "txId", &s.TxID, avroInt64),
	} {
		if e != nil {
			return nil, e
		}
	}
	return s, nil
}

func avroEnvelope(m map[string]any, e *envelopeFields) error {
	var err error
	if v, ok := m["source"]; ok {
		if e.Source, err = avroSource(v); err != nil {
			return err
		}
	}
	for _, err := range []error{
		avroSet(m, "", "op", &e.Op, avroOp),
		avroSet(m, "", "ts_ms", &e.TsMs, avroInt64),
		avroSet(m, "", "__deleted", &e.Deleted, avroFlag),
		avroSet(m, "", "__op", &e.FlatOp, avroOp),
		avroSet(m, "", "__source_ts_ms", &e.SrcTsMs, avroInt64),
		avroSet(m, "", "__source_lsn", &e.SrcLSN, avroInt64),
		avroSet(m, "", "__lsn", &e.FlatLSN, avroInt64),
		avroSet(m, "", "__source_txId", &e.SrcTxID, avroInt64),
		avroSet(m, "", "__txId", &e.FlatTxID, avroInt64),
		avroSet(m, "", "__source_table", &e.SrcTable, avroText),
		avroSet(m, "", "__table", &e.FlatTab, avroText),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// avroRow converts m[name] (before/after) with fill, leaving *dst nil for a
// null or absent image.
func avroRow[R any](m map[string]any, name string, dst **R, fill func(map[string]any, string, *R) error) error {
	v := m[name]
	if v == nil {
		return nil
	}
	r, err := avroMap(v, name)
	if err != nil {
		return err
	}
	*dst = new(R)
	return fill(r, name, *dst)
}

func avroContentRow(m map[string]any, path string, r *contentRow) error {
	for _, err := range []error{
		avroSet(m, path, "id", &r.ID, avroUUID),
		avroSet(m, path, "slug", &r.Slug, avroText),
		avroSet(m, path, "title", &r.Title, avroText),
		avroSet(m, path, "content_type", &r.ContentType, avroText),
		avroSet(m, path, "length_seconds", &r.LengthSeconds, avroInt32),
		avroSet(m, path, "publish_ts", &r.PublishTS, avroTime),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func avroEngagementRow(m map[string]any, path string, r *engagementRow) error {
	for _, err := range []error{
		avroSet(m, path, "id", &r.ID, avroInt64),
		avroSet(m, path, "content_id", &r.ContentID, avroUUID),
		avroSet(m, path, "user_id", &r.UserID, avroUUID),
		avroSet(m, path, "event_type", &r.EventType, avroText),
		avroSet(m, path, "event_ts", &r.EventTs, avroTime),
		avroSet(m, path, "duration_ms", &r.DurationMs, avroInt32),
		avroSet(m, path, "device", &r.Device, avroText),
		avroSet(m, path, "raw_payload", &r.RawPayload, avroRaw),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func avroContentDoc(native any, doc *contentDoc) error {
	m, ok := native.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: got avro %s", errNotEnvelope, avroTypeName(native))
	}
	for _, err := range []error{
		avroEnvelope(m, &doc.envelopeFields),
		avroRow(m, "before", &doc.Before, avroContentRow),
		avroRow(m, "after", &doc.After, avroContentRow),
		avroContentRow(m, "", &doc.contentRow),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func avroEngagementDoc(native any, doc *engagementDoc) error {
	m, ok := native.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: got avro %s", errNotEnvelope, avroTypeName(native))
	}
	for _, err := range []error{
		avroEnvelope(m, &doc.envelopeFields),
		avroRow(m, "before", &doc.Before, avroEngagementRow),
		avroRow(m, "after", &doc.After, avroEngagementRow),
		avroEngagementRow(m, "", &doc.engagementRow),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// avroKeyField reads a key: a record with field id, or the bare value.
func avroKeyField[T interface{ valid() bool }](native any, conv func(any, string) (T, error)) (T, error) {
	v := native
	if m, ok := native.(map[string]any); ok {
		v = m["id"]
	}
	x, err := conv(v, "id")
	if err == nil && !x.valid() {
		err = &fieldError{"id", "missing or null"}
	}
	return x, err
}
