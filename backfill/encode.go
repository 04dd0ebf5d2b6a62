package backfill

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// row is one engagement_events row as read.
type row struct {
	ID         int64
	ContentID  pgtype.UUID
	UserID     pgtype.UUID
	EventType  pgtype.Text
	EventTs    time.Time
	DurationMs pgtype.Int4
	Device     pgtype.Text
	RawPayload []byte // JSONB text; nil for NULL
}

// appendEvent appends the contract's plain JSON event of r:
//
//	{"id":42,"content_id":"<uuid>","user_id":"<uuid>","event_type":"play",
//	 "event_ts":"2025-01-01T12:30:00.123456Z","duration_ms":12340,"device":"ios","raw_payload":{...}}
//
// NULL columns are written as null; event_ts is RFC 3339 in UTC with the
// microseconds Postgres keeps; raw_payload is the JSON value itself, except
// a JSON string, which goes as its JSON text (see below).
func appendEvent(b []byte, r *row) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, `,"content_id":`...)
	b = appendUUID(b, r.ContentID)
	b = append(b, `,"user_id":`...)
	b = appendUUID(b, r.UserID)
	b = append(b, `,"event_type":`...)
	b = appendText(b, r.EventType)
	b = append(b, `,"event_ts":"`...)
	b = r.EventTs.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_ms":`...)
	if r.DurationMs.Valid {
		b = strconv.AppendInt(b, int64(r.DurationMs.Int32), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"device":`...)
	b = appendText(b, r.Device)
	b = append(b, `,"raw_payload":`...)
	switch {
	case len(r.RawPayload) == 0:
		b = append(b, "null"...)
	case r.RawPayload[0] == '"':
		// A JSONB string scalar goes as its JSON text in a string, the
		// Debezium form: sent as itself, a decoder would take the string's
		// content for JSON text ("123" would become the number 123).
		b = appendString(b, string(r.RawPayload))
	default:
		b = append(b, r.RawPayload...)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

func appendUUID(b []byte, u pgtype.UUID) []byte {
	if !u.Valid {
		return append(b, "null"...)
	}
	b = append(b, '"')
	for i, x := range u.Bytes {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	return append(b, '"')
}

func appendText(b []byte, t pgtype.Text) []byte {
	if !t.Valid {
		return append(b, "null"...)
	}
	return appendString(b, t.String)
}

// appendString appends s as a JSON string. Postgres text is valid UTF-8 in
// a UTF8 database; an invalid byte is replaced by U+FFFD as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
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
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
