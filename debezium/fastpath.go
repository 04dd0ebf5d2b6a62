package debezium

// The fast path decodes the engagement records the hot path sees (the
// contract's plain event, the ExtractNewRecordState row, the change-event
// envelope, each bare or in JsonConverter's wrapper) in one pass. Through
// encoding/json's reflection the plain event cost about 4.5 µs and 9
// allocations, more than the rest of an event's processing together; this
// way it costs well under 1 µs and 2 allocations (the user id text and the
// copy of raw_payload, which the caller owns).
//
// It does not reimplement the decoder's rules. It fills the same
// engagementDoc that json.Unmarshal would, by handing each field's exact
// value bytes to the same UnmarshalJSON methods, and then doc.decide applies
// the usual rules. What it adds is only the part of encoding/json it
// replaces: validation (fastjson.go) and matching keys to fields. Wherever
// that could differ from encoding/json it gives up, and the record takes the
// general path from the start:
//
//   - any syntax error, or any field error: the general path then produces
//     its error message, so messages never differ;
//   - a key with escapes or non-ASCII bytes, or one that matches a field
//     only case-insensitively (encoding/json would match it);
//   - a repeated key (encoding/json merges or overwrites);
//   - a value of the wrong JSON type for a nested object, a nested wrapper,
//     nesting deeper than maxFastDepth;
//   - a record whose meaning depends on the Kafka key (delete without before
//     image), or whose rules fail.
//
// FuzzEngagementFastPath checks that both paths agree.

// fastDoc holds a record's doc and the nested objects it would point to;
// they are kept apart from doc so that none of it escapes (see decide).
type fastDoc struct {
	doc                         engagementDoc
	src                         sourceJSON
	before, after               engagementRow
	hasSrc, hasBefore, hasAfter bool
}

// fastEngagement decodes a JSON value (not a tombstone, not Avro) into ev,
// which must be zero; false means the caller must discard ev and take the
// general path.
func fastEngagement(value []byte, ev *EngagementEvent) bool {
	var f fastDoc
	// A wrapper needs no more than this: top refuses the keys "schema" and
	// "payload", so event's checks for nested wrappers have nothing to find.
	if p := payloadOf(value); p != nil {
		value = p
	}
	s := scanner{b: value}
	s.ws()
	if s.i >= len(value) || value[s.i] != '{' || !f.top(&s) {
		return false
	}
	if s.ws(); s.i != len(value) {
		return false
	}
	var (
		src           *sourceJSON
		before, after *engagementRow
	)
	if f.hasSrc {
		src = &f.src
	}
	if f.hasBefore {
		before = &f.before
	}
	if f.hasAfter {
		after = &f.after
	}
	hasID, err := f.doc.decide(ev, src, before, after)
	return err == nil && (hasID || ev.Kind != KindChange)
}

// Bits of the seen sets, one per known key of a level.
const (
	kID = 1 << iota
	kContentID
	kUserID
	kEventType
	kEventTs
	kDurationMs
	kDevice
	kRawPayload
	kOp
	kTsMs
	kDeleted
	kFlatOp
	kSrcTsMs
	kSrcLSN
	kFlatLSN
	kSrcTxID
	kFlatTxID
	kSrcTable
	kFlatTable
	kSource
	kBefore
	kAfter
)

// top scans the record's object, at its '{'.
func (f *fastDoc) top(s *scanner) bool {
	var seen uint32
	s.i++
	for first := true; ; first = false {
		key, done, ok := s.member(first)
		switch {
		case !ok || key == nil && !done:
			return false
		case done:
			return true
		}
		var bit uint32
		switch string(key) {
		// A nested object is scanned in place; null leaves the pointer
		// that encoding/json would set nil. Any other value is a type error
		// on the general path.
		case "source":
			bit = kSource
			if f.hasSrc, ok = s.objectOrNull(); !ok || f.hasSrc && !f.src.scan(s) {
				return false
			}
		case "before":
			bit = kBefore
			if f.hasBefore, ok = s.objectOrNull(); !ok || f.hasBefore && !f.before.scan(s) {
				return false
			}
		case "after":
			bit = kAfter
			if f.hasAfter, ok = s.objectOrNull(); !ok || f.hasAfter && !f.after.scan(s) {
				return false
			}
		default:
			v, ok := s.value(0)
			if !ok {
				return false
			}
			var known bool
			var err error
			if bit, known, err = f.doc.set(key, v); err != nil || !known && foldsToField(key) {
				return false
			}
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

// objectOrNull reports an object at s.i, consuming nothing, or consumes null.
func (s *scanner) objectOrNull() (object, ok bool) {
	if s.i < len(s.b) && s.b[s.i] == '{' {
		return true, true
	}
	return false, s.literal("null")
}

// set stores the value v of key in the top-level fields; known is false for
// a key that is none of them. The columns are repeated from
// engagementRow.set so that one switch finds any key.
func (d *engagementDoc) set(key, v []byte) (bit uint32, known bool, err error) {
	r := &d.engagementRow
	switch string(key) {
	case "id":
		return kID, true, r.ID.UnmarshalJSON(v)
	case "content_id":
		return kContentID, true, r.ContentID.UnmarshalJSON(v)
	case "user_id":
		return kUserID, true, r.UserID.UnmarshalJSON(v)
	case "event_type":
		return kEventType, true, r.EventType.UnmarshalJSON(v)
	case "event_ts":
		return kEventTs, true, r.EventTs.UnmarshalJSON(v)
	case "duration_ms":
		return kDurationMs, true, r.DurationMs.UnmarshalJSON(v)
	case "device":
		return kDevice, true, r.Device.UnmarshalJSON(v)
	case "raw_payload":
		return kRawPayload, true, r.RawPayload.UnmarshalJSON(v)
	case "op":
		return kOp, true, d.Op.UnmarshalJSON(v)
	case "ts_ms":
		return kTsMs, true, d.TsMs.UnmarshalJSON(v)
	case "__deleted":
		return kDeleted, true, d.Deleted.UnmarshalJSON(v)
	case "__op":
		return kFlatOp, true, d.FlatOp.UnmarshalJSON(v)
	case "__source_ts_ms":
		return kSrcTsMs, true, d.SrcTsMs.UnmarshalJSON(v)
	case "__source_lsn":
		return kSrcLSN, true, d.SrcLSN.UnmarshalJSON(v)
	case "__lsn":
		return kFlatLSN, true, d.FlatLSN.UnmarshalJSON(v)
	case "__source_txId":
		return kSrcTxID, true, d.SrcTxID.UnmarshalJSON(v)
	case "__txId":
		return kFlatTxID, true, d.FlatTxID.UnmarshalJSON(v)
	case "__source_table":
		return kSrcTable, true, d.SrcTable.UnmarshalJSON(v)
	case "__table":
		return kFlatTable, true, d.FlatTab.UnmarshalJSON(v)
	}
	return 0, false, nil
}

// set stores the value v of key when it is a column.
func (r *engagementRow) set(key, v []byte) (bit uint32, known bool, err error) {
	switch string(key) {
	case "id":
		return kID, true, r.ID.UnmarshalJSON(v)
	case "content_id":
		return kContentID, true, r.ContentID.UnmarshalJSON(v)
	case "user_id":
		return kUserID, true, r.UserID.UnmarshalJSON(v)
	case "event_type":
		return kEventType, true, r.EventType.UnmarshalJSON(v)
	case "event_ts":
		return kEventTs, true, r.EventTs.UnmarshalJSON(v)
	case "duration_ms":
		return kDurationMs, true, r.DurationMs.UnmarshalJSON(v)
	case "device":
		return kDevice, true, r.Device.UnmarshalJSON(v)
	case "raw_payload":
		return kRawPayload, true, r.RawPayload.UnmarshalJSON(v)
	}
	return 0, false, nil
}

// scan reads a before or after image, at its '{'.
func (r *engagementRow) scan(s *scanner) bool {
	var seen uint32
	s.i++
	for first := true; ; first = false {
		key, done, ok := s.member(first)
		switch {
		case !ok || key == nil && !done:
			return false
		case done:
			return true
		}
		v, ok := s.value(0)
		if !ok {
			return false
		}
		bit, known, err := r.set(key, v)
		if err != nil || !known && foldsToField(key) || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

// set stores the value v of key when it is a field of the source block.
func (src *sourceJSON) set(key, v []byte) (bit uint32, known bool, err error) {
	switch string(key) {
	case "name":
		return 1 << 0, true, src.Name.UnmarshalJSON(v)
	case "db":
		return 1 << 1, true, src.DB.UnmarshalJSON(v)
	case "schema":
		return 1 << 2, true, src.Schema.UnmarshalJSON(v)
	case "table":
		return 1 << 3, true, src.Table.UnmarshalJSON(v)
	case "snapshot":
		return 1 << 4, true, src.Snapshot.UnmarshalJSON(v)
	case "ts_ms":
		return 1 << 5, true, src.TsMs.UnmarshalJSON(v)
	case "lsn":
		return 1 << 6, true, src.LSN.UnmarshalJSON(v)
	case "txId":
		return 1 << 7, true, src.TxID.UnmarshalJSON(v)
	}
	return 0, false, nil
}

// scan reads the source block, at its '{'.
func (src *sourceJSON) scan(s *scanner) bool {
	var seen uint32
	s.i++
	for first := true; ; first = false {
		key, done, ok := s.member(first)
		switch {
		case !ok || key == nil && !done:
			return false
		case done:
			return true
		}
		v, ok := s.value(0)
		if !ok {
			return false
		}
		bit, known, err := src.set(key, v)
		if err != nil || !known && foldsToField(key) || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

// foldsToField reports whether key, ASCII-only, equals the name of a field of
// any doc type under encoding/json's case folding. Checking every level's
// names at every level only makes the fast path give up more often.
func foldsToField(key []byte) bool {
	var buf [len("__source_table")]byte
	if len(key) > len(buf) {
		return false
	}
	for i, c := range key {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(key)]) {
	case "ID", "CONTENT_ID", "USER_ID", "EVENT_TYPE", "EVENT_TS", "DURATION_MS", "DEVICE", "RAW_PAYLOAD",
		"SCHEMA", "PAYLOAD", "SOURCE", "BEFORE", "AFTER", "OP", "TS_MS", "__DELETED", "__OP",
		"__SOURCE_TS_MS", "__SOURCE_LSN", "__LSN", "__SOURCE_TXID", "__TXID", "__SOURCE_TABLE", "__TABLE",
		"NAME", "DB", "TABLE", "SNAPSHOT", "LSN", "TXID":
		return true
	}
	return false
}
