package debezium

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// The doc types mirror every JSON form at once, so that one encoding/json
// pass decodes a record whatever its form: the JsonConverter wrapper
// (schema/payload), the envelope (op/source/before/after), the flattened row
// (columns plus __ fields) and the heartbeat (ts_ms alone). Avro data is
// converted into the same types, so one set of rules gives every form its
// meaning.

type sourceJSON struct {
	Name     jText  `json:"name"`
	DB       jText  `json:"db"`
	Schema   jText  `json:"schema"`
	Table    jText  `json:"table"`
	Snapshot jText  `json:"snapshot"`
	TsMs     jInt64 `json:"ts_ms"`
	LSN      jInt64 `json:"lsn"`
	TxID     jInt64 `json:"txId"`
}

func (s *sourceJSON) source() Source {
	if s == nil {
		return Source{}
	}
	return Source{
		Name: s.Name.v, DB: s.DB.v, Schema: s.Schema.v, Table: s.Table.v, Snapshot: s.Snapshot.v,
		TsMs: s.TsMs.v, LSN: s.LSN.v, TxID: s.TxID.v,
	}
}

// envelopeFields are the non-column fields of every form.
type envelopeFields struct {
	Schema seen        `json:"schema"`
	Source *sourceJSON `json:"source"`
	Op     jOp         `json:"op"`
	TsMs   jInt64      `json:"ts_ms"`

	// ExtractNewRecordState's additions (add.fields): op, source.ts_ms, and
	// the source fields that order versions, with or without "source.".
	Deleted  jFlag  `json:"__deleted"`
	FlatOp   jOp    `json:"__op"`
	SrcTsMs  jInt64 `json:"__source_ts_ms"`
	SrcLSN   jInt64 `json:"__source_lsn"`
	FlatLSN  jInt64 `json:"__lsn"`
	SrcTxID  jInt64 `json:"__source_txId"`
	FlatTxID jInt64 `json:"__txId"`
	SrcTable jText  `json:"__source_table"`
	FlatTab  jText  `json:"__table"`
}

type form uint8

const (
	formNone form = iota
	formEnvelope
	formRow
	formHeartbeat
)

// form tells the shapes apart. A row with a bare "op" (add.fields.prefix
// set to "") is still a row: an envelope carries no columns at top level.
func (e *envelopeFields) form(hasSource, rowID, beforeAfter bool) form {
	switch {
	case hasSource || beforeAfter || e.Op.set && !rowID:
		return formEnvelope
	case rowID:
		return formRow
	case e.TsMs.set:
		return formHeartbeat
	}
	return formNone
}

var errNotEnvelope = errors.New("value is not a debezium envelope, flattened row or heartbeat")

// envelopeOp checks what an envelope needs beyond its row. The source block
// is passed apart from e for the fast path (see engagementDoc.decide).
func (e *envelopeFields) envelopeOp(table string, source *sourceJSON) (Op, Source, error) {
	if !e.Op.set {
		return 0, Source{}, errors.New(`debezium envelope without "op"`)
	}
	src := source.source()
	if src.Table != "" && src.Table != table {
		return 0, src, fmt.Errorf("record is for table %q, not %q", src.Table, table)
	}
	return e.Op.v, src, nil
}

// flatOp derives op and source of a flattened row. Without __op the row is
// an upsert; 'c' is reported since nothing says it replaced an older one.
func (e *envelopeFields) flatOp(table string) (Op, Source, error) {
	op, opSet := OpCreate, e.FlatOp.set || e.Op.set
	switch {
	case e.FlatOp.set:
		op = e.FlatOp.v
	case e.Op.set:
		op = e.Op.v
	}
	switch {
	case op == OpTruncate:
		return 0, Source{}, errors.New(`flattened row with __op "t"`)
	case e.Deleted.set && e.Deleted.v != (op == OpDelete) && opSet:
		return 0, Source{}, fmt.Errorf("__deleted %t contradicts __op %q", e.Deleted.v, op)
	case e.Deleted.v:
		op = OpDelete
	}
	src := Source{TsMs: e.SrcTsMs.v, LSN: e.SrcLSN.v, TxID: e.SrcTxID.v, Table: e.SrcTable.v}
	if !e.SrcLSN.set {
		src.LSN = e.FlatLSN.v
	}
	if !e.SrcTxID.set {
		src.TxID = e.FlatTxID.v
	}
	if !e.SrcTable.set {
		src.Table = e.FlatTab.v
	}
	if src.Table != "" && src.Table != table {
		return 0, src, fmt.Errorf("record is for table %q, not %q", src.Table, table)
	}
	return op, src, nil
}

// unwrap strips the JsonConverter wrapper; unwrapped says the caller already
// did. A null payload is refused rather than read as a tombstone:
// JsonConverter writes a Kafka null for a null value, so this shape means
// something else went wrong.
func unwrap[D any](unwrapped, wrapped bool, payload *D) (*D, error) {
	switch {
	case wrapped && unwrapped:
		return nil, errors.New("nested JsonConverter wrapper")
	case !wrapped:
		return nil, nil
	case payload == nil:
		return nil, errors.New(`JsonConverter value without "payload" (or payload null)`)
	}
	return payload, nil
}

// wrappedDoc is a table's document type: it may be a JsonConverter wrapper
// ({"schema", "payload"}) around a document of its own type.
type wrappedDoc[D any] interface {
	*D
	wrapper() (schema bool, payload *D)
}

// payloadDoc returns the document that holds the record's meaning: doc
// itself, or the payload it wraps, which must not be a wrapper again.
func payloadDoc[D any, P wrappedDoc[D]](unwrapped bool, doc P) (P, error) {
	schema, payload := doc.wrapper()
	inner, err := unwrap(unwrapped, schema || payload != nil, payload)
	if err != nil || inner == nil {
		return doc, err
	}
	schema, payload = P(inner).wrapper()
	if _, err := unwrap(true, schema || payload != nil, payload); err != nil {
		return doc, err
	}
	return inner, nil
}

// chooseRow is what decide does for every table before reading a row: from
// the document's form it sets the event's kind, op and source, and picks the
// row image to read (the flat row, or the envelope's before or after) with
// its JSON path for error messages. row is nil when there is none to read:
// a truncate, a heartbeat, a delete without a before image. A generic
// function rather than a method because the row types differ per table.
func chooseRow[R any](e *envelopeFields, table string, rowID bool, source *sourceJSON, flat, before, after *R, kind *Kind, op *Op, src *Source) (row *R, path string, err error) {
	switch e.form(source != nil, rowID, before != nil || after != nil) {
	case formEnvelope:
		if *op, *src, err = e.envelopeOp(table, source); err != nil {
			return nil, "", err
		}
		switch *op {
		case OpTruncate:
			*kind = KindTruncate
			return nil, "", nil
		case OpDelete:
			row, path = before, "before"
		default:
			row, path = after, "after"
			if row == nil {
				return nil, "", fmt.Errorf("op %q without \"after\"", *op)
			}
		}
	case formRow:
		if *op, *src, err = e.flatOp(table); err != nil {
			return nil, "", err
		}
		row = flat
	case formHeartbeat:
		*kind, *src = KindHeartbeat, Source{TsMs: e.TsMs.v}
		return nil, "", nil
	default:
		return nil, "", errNotEnvelope
	}
	*kind = KindChange
	return row, path, nil
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func missing(path, field string) error { return &fieldError{join(path, field), "missing"} }

func nullErr(path, field, want string) error {
	return &fieldError{join(path, field), "want " + want + ", got null"}
}

// ---- content ----

type contentRow struct {
	ID            jUUID  `json:"id"`
	Slug          jText  `json:"slug"`
	Title         jText  `json:"title"`
	ContentType   jText  `json:"content_type"`
	LengthSeconds jInt32 `json:"length_seconds"`
	PublishTS     jTime  `json:"publish_ts"`
}

type contentDoc struct {
	envelopeFields
	contentRow
	Payload *contentDoc `json:"payload"`
	Before  *contentRow `json:"before"`
	After   *contentRow `json:"after"`
}

// content converts a row image. Only upserts need the NOT NULL columns: a
// delete's before image has just the key for real.
func (r *contentRow) content(path string, upsert bool) (c Content, unavail Columns, err error) {
	switch {
	case !r.ID.set:
		return c, 0, missing(path, "id")
	case r.ID.null:
		return c, 0, nullErr(path, "id", "uuid string")
	}
	c.ID = r.ID.v
	if upsert {
		for _, f := range [...]struct {
			name string
			set  bool
			null bool
			want string
		}{
			{"slug", r.Slug.set, r.Slug.null, "string"},
			{"title", r.Title.set, r.Title.null, "string"},
			{"publish_ts", r.PublishTS.set, r.PublishTS.null, "timestamp"},
		} {
			if !f.set {
				return c, 0, missing(path, f.name)
			}
			if f.null {
				return c, 0, nullErr(path, f.name, f.want)
			}
		}
	}
	if r.Slug.v == placeholder {
		unavail |= ColSlug
	} else {
		c.Slug = r.Slug.v
	}
	if r.Title.v == placeholder {
		unavail |= ColTitle
	} else {
		c.Title = r.Title.v
	}
	switch {
	case r.ContentType.v == placeholder:
		unavail |= ColContentType
	case r.ContentType.set && !r.ContentType.null:
		c.ContentType.String, c.ContentType.Valid = r.ContentType.v, true
	}
	if r.LengthSeconds.set && !r.LengthSeconds.null {
		c.LengthSeconds.Int32, c.LengthSeconds.Valid = r.LengthSeconds.v, true
	}
	c.PublishTS = r.PublishTS.v
	return c, unavail, nil
}

func (doc *contentDoc) wrapper() (bool, *contentDoc) { return bool(doc.Schema), doc.Payload }

// event gives the record's meaning apart from the Kafka key. hasID is false
// when the value names no row (delete without before image, truncate,
// heartbeat).
func (doc *contentDoc) event(unwrapped bool) (ev ContentEvent, hasID bool, err error) {
	if doc, err = payloadDoc(unwrapped, doc); err != nil {
		return ev, false, err
	}
	hasID, err = doc.decide(&ev, doc.Source, doc.Before, doc.After)
	return ev, hasID, err
}

// decide is event after unwrapping, writing into ev, which must be zero. It
// takes the source block and the images apart from doc for the fast path,
// as engagementDoc.decide does.
func (doc *contentDoc) decide(ev *ContentEvent, source *sourceJSON, before, after *contentRow) (hasID bool, err error) {
	row, path, err := chooseRow(&doc.envelopeFields, "content", doc.ID.set, source, &doc.contentRow, before, after, &ev.Kind, &ev.Op, &ev.Source)
	if row == nil || err != nil {
		return false, err
	}
	ev.Row, ev.Unavailable, err = row.content(path, ev.Op.Upsert())
	ev.Key = ev.Row.ID
	return err == nil, err
}

// ---- engagement ----

type engagementRow struct {
	ID         jInt64 `json:"id"`
	ContentID  jUUID  `json:"content_id"`
	UserID     jUUID  `json:"user_id"`
	EventType  jText  `json:"event_type"`
	EventTs    jTime  `json:"event_ts"`
	DurationMs jInt32 `json:"duration_ms"`
	Device     jText  `json:"device"`
	RawPayload jRaw   `json:"raw_payload"`
}

type engagementDoc struct {
	envelopeFields
	engagementRow
	Payload *engagementDoc `json:"payload"`
	Before  *engagementRow `json:"before"`
	After   *engagementRow `json:"after"`
}

// engagement converts a row image into e, which must be zero. It writes
// through a pointer because the copies of a returned Engagement showed in
// the fast path's profile.
func (r *engagementRow) engagement(e *Engagement, path string, upsert bool) error {
	switch {
	case !r.ID.set:
		return missing(path, "id")
	case r.ID.null:
		return nullErr(path, "id", "int64")
	case upsert && !r.EventTs.set:
		return missing(path, "event_ts")
	case upsert && r.EventTs.null:
		return nullErr(path, "event_ts", "timestamp")
	}
	e.ID, e.EventTs = r.ID.v, r.EventTs.v
	if r.ContentID.set && !r.ContentID.null {
		e.ContentID = uuid.NullUUID{UUID: r.ContentID.v, Valid: true}
	}
	if r.UserID.set && !r.UserID.null {
		e.UserID.String, e.UserID.Valid = uuidString(r.UserID.v), true
	}
	e.EventType = nullText(r.EventType)
	e.Device = nullText(r.Device)
	if r.DurationMs.set && !r.DurationMs.null {
		e.DurationMs.Int32, e.DurationMs.Valid = r.DurationMs.v, true
	}
	e.RawPayload = r.RawPayload.v
	return nil
}

// nullText maps SQL NULL, and the TOAST placeholder (value unknown), to an
// invalid NullString.
func nullText(t jText) (s sql.NullString) {
	if t.set && !t.null && t.v != placeholder {
		s.String, s.Valid = t.v, true
	}
	return s
}

func (doc *engagementDoc) wrapper() (bool, *engagementDoc) { return bool(doc.Schema), doc.Payload }

func (doc *engagementDoc) event(unwrapped bool) (ev EngagementEvent, hasID bool, err error) {
	if doc, err = payloadDoc(unwrapped, doc); err != nil {
		return ev, false, err
	}
	hasID, err = doc.decide(&ev, doc.Source, doc.Before, doc.After)
	return ev, hasID, err
}

// decide is event after unwrapping, writing into ev, which must be zero. It
// takes the source block and the images apart from doc so that the fast path
// can keep them on its stack: escape analysis moves to the heap whatever a
// struct's pointer fields point to once any of its contents leak, as error
// messages make them do.
func (doc *engagementDoc) decide(ev *EngagementEvent, source *sourceJSON, before, after *engagementRow) (hasID bool, err error) {
	row, path, err := chooseRow(&doc.envelopeFields, "engagement_events", doc.ID.set, source, &doc.engagementRow, before, after, &ev.Kind, &ev.Op, &ev.Source)
	if row == nil || err != nil {
		return false, err
	}
	err = row.engagement(&ev.Event, path, ev.Op.Upsert())
	return err == nil, err
}
