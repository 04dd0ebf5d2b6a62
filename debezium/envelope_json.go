package debezium

import (
	"bytes"
	"encoding/json"
)

// The types below are the shapes Debezium's JsonConverter writes with
// schemas.enable=false for the content table, fields in Debezium's order,
// for code that writes such records itself (datagen's Kafka mode, tests).

// ContentRowJSON is a content row image (before or after).
type ContentRowJSON struct {
	ID            string  `json:"id"`
	Slug          string  `json:"slug"`
	Title         string  `json:"title"`
	ContentType   *string `json:"content_type"`
	LengthSeconds *int32  `json:"length_seconds"`
	PublishTS     string  `json:"publish_ts"` // ZonedTimestamp: ZonedTimestampLayout
}

// ZonedTimestampLayout is how Debezium writes a TIMESTAMPTZ.
const ZonedTimestampLayout = "2006-01-02T15:04:05.000000Z"

// SourceJSON is the io.debezium.connector.postgresql.Source block.
type SourceJSON struct {
	Version   string `json:"version"`
	Connector string `json:"connector"`
	Name      string `json:"name"`
	TsMs      int64  `json:"ts_ms"`
	Snapshot  string `json:"snapshot"`
	DB        string `json:"db"`
	Sequence  string `json:"sequence"`
	TsUs      int64  `json:"ts_us"`
	TsNs      int64  `json:"ts_ns"`
	Schema    string `json:"schema"`
	Table     string `json:"table"`
	TxID      int64  `json:"txId"`
	LSN       int64  `json:"lsn"`
	Xmin      *int64 `json:"xmin"`
}

// ContentEnvelopeJSON is the change event envelope of the content table.
type ContentEnvelopeJSON struct {
	Before      *ContentRowJSON `json:"before"`
	After       *ContentRowJSON `json:"after"`
	Source      SourceJSON      `json:"source"`
	Transaction *struct{}       `json:"transaction"`
	Op          string          `json:"op"`
	TsMs        int64           `json:"ts_ms"`
	TsUs        int64           `json:"ts_us"`
	TsNs        int64           `json:"ts_ns"`
}

// MarshalJSON encodes v as Jackson does for these records: compact, raw
// UTF-8, no HTML escaping, no trailing newline.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
