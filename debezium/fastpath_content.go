package debezium

import "github.com/google/uuid"

// The content table's part of the fast path (fastpath.go): its field tables,
// and the key, which Content reads for every change. Restoring the view
// reads a whole topic of snapshot records, for which encoding/json took 8 to
// 13 µs each (BenchmarkContentJSON).

// Bits of contentRow's columns; kID is shared with engagementRow, and all
// stay below kOp, the first of the envelope's.
const (
	kSlug = kID << (iota + 1)
	kTitle
	kContentType
	kLengthSeconds
	kPublishTS
)

// fastContent decodes a JSON value (not a tombstone, not Avro) into ev,
// which must be zero, and reports whether the value named the row (see
// contentDoc.event); ok false means the caller must discard ev and take the
// general path. Unlike engagement, a delete without before image is taken
// too: Content checks the key against the value alike on both paths.
func fastContent(value []byte, ev *ContentEvent) (hasID, ok bool) {
	var (
		doc           contentDoc
		src           sourceJSON
		before, after contentRow
	)
	has, ok := scanRecord(value, doc.contentRow.set, doc.envelopeFields.set, src.set, before.set, after.set)
	if !ok {
		return false, false
	}
	hasID, err := doc.decide(ev, ifPresent(has.src, &src), ifPresent(has.before, &before), ifPresent(has.after, &after))
	return hasID, err == nil
}

// set stores the value v of key when it is a column.
func (r *contentRow) set(key, v []byte) (bit uint32, known bool, err error) {
	switch string(key) {
	case "id":
		return kID, true, r.ID.UnmarshalJSON(v)
	case "slug":
		return kSlug, true, r.Slug.UnmarshalJSON(v)
	case "title":
		return kTitle, true, r.Title.UnmarshalJSON(v)
	case "content_type":
		return kContentType, true, r.ContentType.UnmarshalJSON(v)
	case "length_seconds":
		return kLengthSeconds, true, r.LengthSeconds.UnmarshalJSON(v)
	case "publish_ts":
		return kPublishTS, true, r.PublishTS.UnmarshalJSON(v)
	}
	return 0, false, nil
}

// fastContentKey reads a content key that is a JSON object, JsonConverter's
// payload already taken out of its wrapper, as keyDoc[jKeyUUID] and its id
// method would: {"id":"<uuid>"}, other members ignored. ok false means the
// caller must take the general path, which also words every error: a key
// without a usable id, or one the scanner refuses (see fastpath.go). The
// keys "schema" and "payload", which make keyDoc look for a nested wrapper,
// are refused by foldsToField.
func fastContentKey(key []byte) (id uuid.UUID, ok bool) {
	var (
		k      keyFields
		object bool
	)
	s := scanner{b: key}
	s.ws()
	if s.i >= len(key) || key[s.i] != '{' || !s.image(&object, k.set) {
		return id, false
	}
	if s.ws(); s.i != len(key) || !k.id.valid() || k.id.bad != nil {
		return id, false
	}
	return k.id.v, true
}

// keyFields is the one field of a content key.
type keyFields struct{ id jKeyUUID }

func (k *keyFields) set(key, v []byte) (bit uint32, known bool, err error) {
	if string(key) == "id" {
		return kID, true, k.id.UnmarshalJSON(v)
	}
	return 0, false, nil
}
