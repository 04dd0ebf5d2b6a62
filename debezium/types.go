package debezium

import (
	"database/sql"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Kind says what a record means to a consumer. The zero value is not a valid
// kind, so a zero event is recognisably undecoded.
type Kind uint8

const (
	KindChange    Kind = iota + 1 // a row-level change: Op is c, r, u or d
	KindTombstone                 // Kafka null value: delete by key (compaction marker)
	KindTruncate                  // op t: the whole table was emptied
	KindHeartbeat                 // connector heartbeat: carries only Source.TsMs
)

func (k Kind) String() string {
	switch k {
	case KindChange:
		return "change"
	case KindTombstone:
		return "tombstone"
	case KindTruncate:
		return "truncate"
	case KindHeartbeat:
		return "heartbeat"
	}
	return "invalid"
}

// Op is Debezium's op code. It is zero for tombstones and heartbeats, which
// carry none.
type Op byte

const (
	OpCreate   Op = 'c'
	OpRead     Op = 'r' // snapshot read
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpTruncate Op = 't'
)

func (o Op) String() string {
	if o == 0 {
		return ""
	}
	return string(rune(o))
}

// Upsert reports whether the op writes the row (c, r and u all do).
func (o Op) Upsert() bool { return o == OpCreate || o == OpRead || o == OpUpdate }

// Source is the part of Debezium's source block a consumer needs. Fields the
// record form does not carry are zero: the flattened form usually carries only
// TsMs, a heartbeat only TsMs, a tombstone nothing.
type Source struct {
	Name, DB, Schema, Table, Snapshot string
	TsMs, LSN, TxID                   int64
}

// Columns is a set of content text columns.
type Columns uint8

// The bit values match store.Columns so callers can convert directly.
const (
	ColSlug Columns = 1 << iota
	ColTitle
	ColContentType
)

func (c Columns) String() string {
	var parts []string
	for _, x := range [...]struct {
		bit  Columns
		name string
	}{{ColSlug, "slug"}, {ColTitle, "title"}, {ColContentType, "content_type"}} {
		if c&x.bit != 0 {
			parts = append(parts, x.name)
		}
	}
	return strings.Join(parts, ",")
}

// Content is one row of the content table.
type Content struct {
	ID            uuid.UUID
	Slug, Title   string
	ContentType   sql.NullString
	LengthSeconds sql.NullInt32
	PublishTS     time.Time // UTC, rounded to microseconds like Postgres
}

// ContentEvent is one decoded record of the content topic.
//
// For Op d, Row is the before image. Under REPLICA IDENTITY DEFAULT only
// Row.ID is real: Debezium fills the NOT NULL columns with converter fallbacks
// ("" and 1970-01-01) and the nullable ones with NULL, so a consumer must
// delete by Key and ignore every other column.
type ContentEvent struct {
	Kind Kind
	Op   Op
	// Key is the row's id, canonical; zero only for truncates and heartbeats.
	Key uuid.UUID
	Row Content // zero unless Kind is KindChange
	// Unavailable lists the columns that held Debezium's TOAST placeholder:
	// their value did not change and was not sent, so the stored value must
	// be kept; the corresponding Row field is left empty.
	Unavailable Columns
	Source      Source
}

// Engagement is one row of the engagement_events table.
type Engagement struct {
	ID         int64
	ContentID  uuid.NullUUID
	UserID     sql.NullString // canonical lowercase UUID text
	EventType  sql.NullString // stored as sent; not checked against the CHECK list
	EventTs    time.Time      // UTC, rounded to microseconds like Postgres
	DurationMs sql.NullInt32
	Device     sql.NullString
	// RawPayload is the JSONB value as JSON text, nil for SQL NULL. It is also
	// nil when Debezium sent the TOAST placeholder instead (the value is then
	// unknown); the same holds for EventType and Device.
	RawPayload []byte
}

// EngagementEvent is one decoded record of an engagement topic.
//
// For Op d, Event is the before image: under REPLICA IDENTITY DEFAULT only
// Event.ID is real. For a tombstone only Event.ID is set, from the key.
type EngagementEvent struct {
	Kind   Kind
	Op     Op
	Event  Engagement
	Source Source
}

// placeholder is Debezium's default unavailable.value.placeholder.
const placeholder = "__debezium_unavailable_value"
