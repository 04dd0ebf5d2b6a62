package store

import (
	"database/sql"

	"github.com/google/uuid"
)

// Row holds the column values of one content row, other than its id.
type Row struct {
	Slug          string
	Title         string
	ContentType   sql.NullString
	LengthSeconds sql.NullInt32
	PublishMicros int64 // publish_ts as microseconds since the Unix epoch, UTC
}

// Columns is a set of text columns; Change.Keep uses it for Debezium's TOAST placeholder.
type Columns uint8

const (
	ColSlug Columns = 1 << iota
	ColTitle
	ColContentType
)

// Source says where a version came from: the Kafka record and the Postgres commit.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
	LSN       int64 // 0 when the record form carries none (ExtractNewRecordState)
	TsMs      int64 // source commit time in ms: the version is valid from here
}

// Change is one row-level change to apply.
type Change struct {
	ID     uuid.UUID
	Delete bool
	Row    Row     // ignored when Delete
	Keep   Columns // columns that keep their stored value (TOAST unchanged)
	Source Source
}

// TopicPartition names a partition of the content topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Lookup is the projection of a version that the join needs; it is served from memory.
type Lookup struct {
	ContentType   sql.NullString
	LengthSeconds sql.NullInt32
	ValidFromMs   int64
	LSN           int64
}

// Record is a full row as stored, for the debug API.
type Record struct {
	ID     uuid.UUID
	Row    Row
	Source Source
}
