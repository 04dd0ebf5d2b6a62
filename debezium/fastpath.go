package debezium

// The fast path decodes the JSON records the hot paths see in one pass: for
// engagement the contract's plain event, the ExtractNewRecordState row and
// the change-event envelope, for content the envelope and the row (a restore
// reads a whole topic of them), each bare or in JsonConverter's wrapper, and
// the content key. Through encoding/json's reflection the plain engagement
// event cost about 4.5 µs and 9 allocations, more than the rest of an
// event's processing together, and a content snapshot record 8 to 13 µs and
// 17 allocations; this way they cost about 1 and 2 µs, and 2 allocations
// each (the user id text and the copy of raw_payload; the slug and the
// title), which the caller owns.
//
// It does not reimplement the decoder's rules. It fills the same doc
// (engagementDoc, contentDoc) that json.Unmarshal would, by handing each
// field's exact value bytes to the same UnmarshalJSON methods, and then the
// doc's decide applies the usual rules. What it adds is only the part of
// encoding/json it replaces: validation (fastjson.go) and matching keys to
// fields. Wherever that could differ from encoding/json it gives up, and the
// record takes the general path from the start:
//
//   - any syntax error, or any field error: the general path then produces
//     its error message, so messages never differ;
//   - a key with escapes or non-ASCII bytes, or one that matches a field
//     only case-insensitively (encoding/json would match it);
//   - a repeated key (encoding/json merges or overwrites);
//   - a value of the wrong JSON type for a nested object, a nested wrapper,
//     nesting deeper than maxFastDepth;
//   - a record whose rules fail, and for engagement one whose meaning
//     depends on the Kafka key (delete without before image). Content reads
//     its key after the value on either path, with the same code.
//
// The per-table parts are only the field tables (the set methods) and the
// call of decide: scanRecord and the scanner methods below read every
// record. FuzzEngagementFastPath and FuzzContentFastPath check that both
// paths agree.

// setter stores the value v of key in the fields of one object level; known
// is false for a key that is none of them. bit is the key's bit in the
// level's seen set (0 for an unknown key, which may repeat).
type setter func(key, v []byte) (bit uint32, known bool, err error)

// images says which nested objects a record had: encoding/json would have
// set the doc's pointer to each.
type images struct{ src, before, after bool }

// scanRecord scans a JSON value (not a tombstone, not Avro), bare or in
// JsonConverter's wrapper. The top level's fields are stored with row (the
// doc's columns) or else env (its envelopeFields), those of the nested
// objects with src, before and after. ok false means the caller must take
// the general path.
//
// The setters are method values of the caller's locals rather than a doc
// with pointers to them: nothing here retains them, so the whole record
// stays on the caller's stack (see engagementDoc.decide).
func scanRecord(value []byte, row, env, src, before, after setter) (has images, ok bool) {
	// A wrapper needs no more than this: the top level refuses the keys
	// "schema" and "payload" (foldsToField), so the checks for nested
	// wrappers have nothing to find.
	if p := payloadOf(value); p != nil {
		value = p
	}
	s := scanner{b: value}
	s.ws()
	if s.i >= len(value) || value[s.i] != '{' {
		return has, false
	}
	var seen uint32
	s.i++
	for first := true; ; first = false {
		key, done, ok := s.member(first)
		switch {
		case !ok || key == nil && !done:
			return has, false
		case done:
			if s.ws(); s.i != len(value) {
				return has, false
			}
			return has, true
		}
		var bit uint32
		switch string(key) {
		case "source":
			bit, ok = kSource, s.image(&has.src, src)
		case "before":
			bit, ok = kBefore, s.image(&has.before, before)
		case "after":
			bit, ok = kAfter, s.image(&has.after, after)
		default:
			var v []byte
			if v, ok = s.value(0); ok {
				var known bool
				var err error
				if bit, known, err = row(key, v); !known {
					bit, known, err = env(key, v)
				}
				ok = err == nil && (known || !foldsToField(key))
			}
		}
		if !ok || seen&bit != 0 {
			return has, false
		}
		seen |= bit
	}
}

// ifPresent is what encoding/json leaves in a pointer field: p when the
// object was there, nil when it was absent or null.
func ifPresent[T any](present bool, p *T) *T {
	if present {
		return p
	}
	return nil
}

// image reads a nested object (the source block, a row image) with set. A
// null leaves present false, as encoding/json leaves the pointer nil; any
// other value is a type error on the general path.
func (s *scanner) image(present *bool, set setter) bool {
	var ok bool
	if *present, ok = s.objectOrNull(); !ok || !*present {
		return ok
	}
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
		bit, known, err := set(key, v)
		if err != nil || !known && foldsToField(key) || seen&bit != 0 {
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

// Bits of the seen sets, one per known key of a level. A table's columns
// take the low byte (contentRow has its own bits there); the envelope's
// fields and the nested objects come after.
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

// set stores the value v of key when it is one of the fields every form and
// table share.
func (e *envelopeFields) set(key, v []byte) (bit uint32, known bool, err error) {
	switch string(key) {
	case "op":
		return kOp, true, e.Op.UnmarshalJSON(v)
	case "ts_ms":
		return kTsMs, true, e.TsMs.UnmarshalJSON(v)
	case "__deleted":
		return kDeleted, true, e.Deleted.UnmarshalJSON(v)
	case "__op":
		return kFlatOp, true, e.FlatOp.UnmarshalJSON(v)
	case "__source_ts_ms":
		return kSrcTsMs, true, e.SrcTsMs.UnmarshalJSON(v)
	case "__source_lsn":
		return kSrcLSN, true, e.SrcLSN.UnmarshalJSON(v)
	case "__lsn":
		return kFlatLSN, true, e.FlatLSN.UnmarshalJSON(v)
	case "__source_txId":
		return kSrcTxID, true, e.SrcTxID.UnmarshalJSON(v)
	case "__txId":
		return kFlatTxID, true, e.FlatTxID.UnmarshalJSON(v)
	case "__source_table":
		return kSrcTable, true, e.SrcTable.UnmarshalJSON(v)
	case "__table":
		return kFlatTable, true, e.FlatTab.UnmarshalJSON(v)
	}
	return 0, false, nil
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

// foldsToField reports whether key, ASCII-only, equals the name of a field of
// any doc type under encoding/json's case folding. Checking every level's
// names at every level, and both tables' at once, only makes the fast path
// give up more often.
func foldsToField(key []byte) bool {
	var buf [len("__source_table")]byte
	if len(key) > len(buf) {
		return false
	}
	for i, c := range key {
		// Upper case for letters. Other bytes may turn into letters or '_'
		// too (DEL into '_'), which only makes for more false alarms.
		buf[i] = c &^ 0x20
	}
	switch string(buf[:len(key)]) {
	case "ID", "CONTENT_ID", "USER_ID", "EVENT_TYPE", "EVENT_TS", "DURATION_MS", "DEVICE", "RAW_PAYLOAD",
		"SLUG", "TITLE", "CONTENT_TYPE", "LENGTH_SECONDS", "PUBLISH_TS",
		"SCHEMA", "PAYLOAD", "SOURCE", "BEFORE", "AFTER", "OP", "TS_MS", "__DELETED", "__OP",
		"__SOURCE_TS_MS", "__SOURCE_LSN", "__LSN", "__SOURCE_TXID", "__TXID", "__SOURCE_TABLE", "__TABLE",
		"NAME", "DB", "TABLE", "SNAPSHOT", "LSN", "TXID":
		return true
	}
	return false
}

// ---- engagement ----

// fastEngagement decodes a JSON value (not a tombstone, not Avro) into ev,
// which must be zero; false means the caller must discard ev and take the
// general path.
func fastEngagement(value []byte, ev *EngagementEvent) bool {
	var (
		doc           engagementDoc
		src           sourceJSON
		before, after engagementRow
	)
	has, ok := scanRecord(value, doc.engagementRow.set, doc.envelopeFields.set, src.set, before.set, after.set)
	if !ok {
		return false
	}
	hasID, err := doc.decide(ev, ifPresent(has.src, &src), ifPresent(has.before, &before), ifPresent(has.after, &after))
	return err == nil && (hasID || ev.Kind != KindChange)
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
