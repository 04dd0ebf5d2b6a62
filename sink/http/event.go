package httpsink

import (
	"database/sql"
	"encoding/json"
	"math"
	"strconv"

	"github.com/thmanyah/enricher/schemas"
)

// TimeLayout is the layout of event_ts in the JSON body: RFC 3339 in UTC with
// milliseconds, as 2025-01-01T12:30:00.000Z.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// AppendEvent appends o as the JSON object the endpoint receives:
// {"event_id", "content_id", "user_id", "event_type", "event_ts",
// "duration_ms", "device", "content_type", "length_seconds",
// "engagement_seconds", "engagement_pct"}, in this order, null for a NULL.
func AppendEvent(b []byte, o *schemas.Output) []byte {
	b = append(b, `{"event_id":`...)
	b = strconv.AppendInt(b, o.EventID, 10)
	b = appendString(append(b, `,"content_id":`...), o.ContentID)
	b = appendString(append(b, `,"user_id":`...), o.UserID)
	b = appendString(append(b, `,"event_type":`...), o.EventType)
	b = append(b, `,"event_ts":"`...)
	b = o.EventTs.UTC().AppendFormat(b, TimeLayout)
	b = appendInt(append(b, `","duration_ms":`...), o.DurationMs)
	b = appendString(append(b, `,"device":`...), o.Device)
	b = appendString(append(b, `,"content_type":`...), o.ContentType)
	b = appendInt(append(b, `,"length_seconds":`...), o.LengthSeconds)
	b = appendFloat(append(b, `,"engagement_seconds":`...), o.EngagementSeconds)
	b = appendFloat(append(b, `,"engagement_pct":`...), o.EngagementPct)
	return append(b, '}')
}

func appendString(b []byte, s sql.NullString) []byte {
	if !s.Valid {
		return append(b, "null"...)
	}
	for i := 0; i < len(s.String); i++ {
		if c := s.String[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			q, _ := json.Marshal(s.String) // escapes, and replaces invalid UTF-8
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s.String...)
	return append(b, '"')
}

func appendInt(b []byte, n sql.NullInt32) []byte {
	if !n.Valid {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(n.Int32), 10)
}

// appendFloat writes the shortest decimal that reads back as f, as
// encoding/json does; NaN and infinities (which JSON lacks) as null.
func appendFloat(b []byte, f sql.NullFloat64) []byte {
	if !f.Valid || math.IsNaN(f.Float64) || math.IsInf(f.Float64, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f.Float64); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f.Float64, format, -1, 64)
}
