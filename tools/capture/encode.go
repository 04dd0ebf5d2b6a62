package capture

import (
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
)

// Type OIDs whose Debezium encoding differs from "the text form as a string".
const (
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidUUID        = 2950
	oidJSONB       = 3802
)

// placeholder is Debezium's default unavailable.value.placeholder: the value
// of an unchanged TOASTed column, which logical decoding does not send.
const placeholder = "__debezium_unavailable_value"

// cell is one column value as logical decoding or a text-format query gives
// it: kind 'n' (NULL), 'u' (unchanged TOAST, value not sent) or 't' (text).
type cell struct {
	kind byte
	data []byte
}

// column is a captured column: its JSON field prefix, type and nullability.
type column struct {
	name    string
	field   []byte // `"name":`
	oid     uint32
	notNull bool
}

func newColumn(name string, oid uint32, notNull bool) column {
	f := appendString(nil, name)
	return column{name: name, field: append(f, ':'), oid: oid, notNull: notNull}
}

// appendRow writes cells as a JSON object in column order. With fallback set
// (the before image of a delete under REPLICA IDENTITY DEFAULT, which holds
// only the key) a NULL in a NOT NULL column becomes Debezium's converter
// fallback for the type, as Debezium writes it.
func appendRow(b []byte, cols []column, cells []cell, fallback bool) []byte {
	b = append(b, '{')
	for i := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, cols[i].field...)
		var c cell
		if i < len(cells) {
			c = cells[i]
		}
		switch {
		case c.kind == 'u':
			b = appendString(b, placeholder)
		case c.kind == 't':
			b = appendValue(b, cols[i].oid, c.data)
		case fallback && cols[i].notNull:
			b = appendFallback(b, cols[i].oid)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// appendKey writes the key object of the primary-key columns pk; nil when the
// table has no primary key (Debezium then writes a null key).
func appendKey(b []byte, cols []column, pk []int, cells []cell) []byte {
	if len(pk) == 0 {
		return nil
	}
	b = append(b, '{')
	for n, i := range pk {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, cols[i].field...)
		if i < len(cells) && cells[i].kind == 't' {
			b = appendValue(b, cols[i].oid, cells[i].data)
		} else {
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// appendValue encodes one non-NULL text value of type oid like Debezium's
// PostgreSQL connector with JsonConverter (time.precision.mode=adaptive).
func appendValue(b []byte, oid uint32, v []byte) []byte {
	switch oid {
	case oidInt2, oidInt4, oidInt8, oidOID:
		if isInteger(v) {
			return append(b, v...)
		}
	case oidBool:
		if len(v) == 1 {
			if v[0] == 't' {
				return append(b, "true"...)
			}
			return append(b, "false"...)
		}
	case oidFloat4, oidFloat8:
		if _, err := strconv.ParseFloat(string(v), 64); err == nil && isNumberText(v) {
			return append(b, v...)
		}
	case oidUUID:
		return appendStringBytes(b, lowerASCII(v))
	case oidTimestamptz:
		if t, ok := parseTimestamp(v, true); ok {
			b = append(b, '"')
			b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
			return append(b, '"')
		}
	case oidTimestamp: // io.debezium.time.MicroTimestamp
		if t, ok := parseTimestamp(v, false); ok {
			return strconv.AppendInt(b, t.UnixMicro(), 10)
		}
	case oidDate: // io.debezium.time.Date: days since the epoch
		if t, err := time.Parse("2006-01-02", string(v)); err == nil {
			return strconv.AppendInt(b, t.Unix()/86400, 10)
		}
	}
	// json, jsonb, text, varchar, numeric and everything else: the text form.
	return appendStringBytes(b, v)
}

// appendFallback writes the value Debezium substitutes for a NULL in a NOT
// NULL column of a key-only before image.
func appendFallback(b []byte, oid uint32) []byte {
	switch oid {
	case oidInt2, oidInt4, oidInt8, oidOID, oidFloat4, oidFloat8, oidTimestamp, oidDate:
		return append(b, '0')
	case oidBool:
		return append(b, "false"...)
	case oidTimestamptz:
		return append(b, `"1970-01-01T00:00:00Z"`...)
	}
	return append(b, `""`...)
}

var tsLayouts = [...]string{
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00:00",
}

// parseTimestamp reads Postgres's ISO output (DateStyle ISO); infinity and BC
// dates are not parsed and stay text.
func parseTimestamp(v []byte, zoned bool) (time.Time, bool) {
	s := string(v)
	if !zoned {
		t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
		return t, err == nil
	}
	for _, l := range tsLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isInteger(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isNumberText rejects NaN and Infinity, which JSON has no number for.
func isNumberText(v []byte) bool {
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return false
		}
	}
	return len(v) > 0
}

func lowerASCII(v []byte) []byte {
	out := make([]byte, len(v))
	for i, c := range v {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func appendString(b []byte, s string) []byte { return appendStringBytes(b, []byte(s)) }

// appendStringBytes quotes s as Jackson does: raw UTF-8, with only '"', '\\'
// and control characters escaped.
func appendStringBytes(b []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// source is what a record's source block says besides the constants.
type source struct {
	snapshot   string        // "false" when streaming
	lastCommit pglogrepl.LSN // sequence[0]; 0 writes null
	lsn        pglogrepl.LSN
	txID       int64
	ts         time.Time // commit time (streaming) or the snapshot's now()
	tbl        *table
}

// envelope holds the parts of every value that are fixed for a run.
type envelope struct {
	prefix []byte // `,"name":"thmanyah"` ready to paste
	db     []byte // `,"db":"postgres"`
}

func newEnvelope(prefix, db string) envelope {
	return envelope{
		prefix: appendString([]byte(`,"name":`), prefix),
		db:     appendString([]byte(`,"db":`), db),
	}
}

// Version is source.version in every record this package writes.
const Version = "enricher-capture"

// append writes a Debezium change-event value in JsonConverter's
// schemas.enable=false form, fields in Debezium's order. before and after are
// JSON objects or nil for null.
func (e *envelope) append(b []byte, before, after []byte, src *source, op byte, now time.Time) []byte {
	b = append(b, `{"before":`...)
	b = appendJSONOrNull(b, before)
	b = append(b, `,"after":`...)
	b = appendJSONOrNull(b, after)
	us := src.ts.UnixMicro()
	b = append(b, `,"source":{"version":"`+Version+`","connector":"postgresql"`...)
	b = append(b, e.prefix...)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, us/1000, 10)
	b = append(b, `,"snapshot":"`...)
	b = append(b, src.snapshot...)
	b = append(b, '"')
	b = append(b, e.db...)
	b = append(b, `,"sequence":"[`...)
	if src.lastCommit == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, `\"`...)
		b = strconv.AppendUint(b, uint64(src.lastCommit), 10)
		b = append(b, `\"`...)
	}
	b = append(b, `,\"`...)
	b = strconv.AppendUint(b, uint64(src.lsn), 10)
	b = append(b, `\"]","ts_us":`...)
	b = strconv.AppendInt(b, us, 10)
	b = append(b, `,"ts_ns":`...)
	b = strconv.AppendInt(b, us*1000, 10)
	b = append(b, src.tbl.schemaField...)
	b = append(b, src.tbl.tableField...)
	b = append(b, `,"txId":`...)
	b = strconv.AppendInt(b, src.txID, 10)
	b = append(b, `,"lsn":`...)
	b = strconv.AppendUint(b, uint64(src.lsn), 10)
	b = append(b, `,"xmin":null},"transaction":null,"op":"`...)
	b = append(b, op)
	b = append(b, `","ts_ms":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"ts_us":`...)
	b = strconv.AppendInt(b, now.UnixMicro(), 10)
	b = append(b, `,"ts_ns":`...)
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	return append(b, '}')
}

func appendJSONOrNull(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return append(b, v...)
}
