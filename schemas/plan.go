package schemas

import (
	"encoding/json"
	"fmt"
	"reflect"
	"unicode/utf8"
)

// opKind is how Append writes one field of the schema.
type opKind uint8

const (
	opLong            opKind = iota // "long"
	opTimestampMillis               // {"type":"long","logicalType":"timestamp-millis"}
	opOptString                     // ["null","string"]
	opOptInt                        // ["null","int"]
	opOptDouble                     // ["null","double"]
)

// step writes one field: op says how, slot which field of Output of that
// kind (an index into Append's arrays of strings, ints or doubles; 0 for the
// kinds Output has one field of).
type step struct {
	op   opKind
	slot uint8
}

// plan is the record's steps in the schema's field order.
type plan []step

// String slots: Append checks the strings for UTF-8 in this order, which
// decides the error a record with several bad strings gets.
const (
	slotContentID = iota
	slotUserID
	slotEventType
	slotDevice
	slotContentType
	numStringSlots
)

// stringFields names the string slots in errors.
var stringFields = [numStringSlots]string{
	slotContentID:   "content_id",
	slotUserID:      "user_id",
	slotEventType:   "event_type",
	slotDevice:      "device",
	slotContentType: "content_type",
}

const (
	typeString = `["null","string"]`
	typeInt    = `["null","int"]`
	typeDouble = `["null","double"]`
)

// bindings ties each field of the schema to the field of Output it is
// written from, in the schema's order, with the only type the writer covers
// for it. A schema change needs a change here and in Output, and the
// differential tests then prove the pair against goavro.
var bindings = [...]struct {
	name   string // in the schema
	goName string // in Output
	typ    string // JSON of the Avro type
	op     opKind
	slot   uint8
}{
	{"event_id", "EventID", `"long"`, opLong, 0},
	{"content_id", "ContentID", typeString, opOptString, slotContentID},
	{"user_id", "UserID", typeString, opOptString, slotUserID},
	{"event_type", "EventType", typeString, opOptString, slotEventType},
	{"event_ts", "EventTs", `{"type":"long","logicalType":"timestamp-millis"}`, opTimestampMillis, 0},
	{"duration_ms", "DurationMs", typeInt, opOptInt, 0},
	{"device", "Device", typeString, opOptString, slotDevice},
	{"content_type", "ContentType", typeString, opOptString, slotContentType},
	{"length_seconds", "LengthSeconds", typeInt, opOptInt, 1},
	{"engagement_seconds", "EngagementSeconds", typeDouble, opOptDouble, 0},
	{"engagement_pct", "EngagementPct", typeDouble, opOptDouble, 1},
}

// notCovered ends every compile error: what to do when the schema changes.
const notCovered = "; the specialised writer covers only Output's fields, in their order, with the types of the bindings in schemas/plan.go: change those with the schema"

// compilePlan checks that schemaJSON is exactly the record the writer
// covers and returns its steps. It refuses rather than guesses: a field the
// writer would write differently from goavro, or not at all, must stop the
// service at start-up, not corrupt the topic. Defaults do not change what a
// writer with every field at hand writes, but only null is accepted, as the
// compatibility rule (doc.go) asks of the nullable fields and forbids to the
// others.
func compilePlan(schemaJSON string) (plan, error) {
	var top any
	if err := json.Unmarshal([]byte(schemaJSON), &top); err != nil {
		return nil, fmt.Errorf("output schema is not JSON: %v", err)
	}
	rec, _ := top.(map[string]any)
	if rec == nil || rec["type"] != "record" {
		return nil, fmt.Errorf("output schema is not a record but %s%s", jsonText(top, 60), notCovered)
	}
	fields, ok := rec["fields"].([]any)
	if !ok {
		return nil, fmt.Errorf("output schema record has no fields array%s", notCovered)
	}
	fieldErr := func(i int, name, format string, args ...any) error {
		return fmt.Errorf("output schema field %d %q: %s%s", i, name, fmt.Sprintf(format, args...), notCovered)
	}
	seen := make(map[string]int, len(fields))
	bound := make([]int, len(fields)) // the binding of each field
	for i, fv := range fields {
		f, _ := fv.(map[string]any)
		name, _ := f["name"].(string)
		if name == "" {
			return nil, fieldErr(i, name, "not an object with a name")
		}
		if j, dup := seen[name]; dup {
			return nil, fieldErr(i, name, "duplicates field %d", j)
		}
		seen[name] = i
		b := bindingOf(name)
		if b < 0 {
			return nil, fieldErr(i, name, "no field of Output is bound to it")
		}
		bound[i] = b
		var want any
		if err := json.Unmarshal([]byte(bindings[b].typ), &want); err != nil {
			panic(err) // bindings are constants
		}
		if !reflect.DeepEqual(f["type"], want) {
			return nil, fieldErr(i, name, "type %s is not %s", jsonText(f["type"], 200), bindings[b].typ)
		}
		if d, ok := f["default"]; ok && d != nil {
			return nil, fieldErr(i, name, "default %s is not null", jsonText(d, 60))
		}
	}
	for _, b := range bindings {
		if _, ok := seen[b.name]; !ok {
			return nil, fmt.Errorf("output schema lacks field %q, Output.%s%s", b.name, b.goName, notCovered)
		}
	}
	p := make(plan, len(fields))
	for i, b := range bound {
		// Every binding is present once, so a misplaced one means a reorder,
		// which the compatibility rule forbids and Output's order mirrors.
		if b != i {
			return nil, fieldErr(i, bindings[b].name, "out of order, the writer expects %q here", bindings[i].name)
		}
		p[i] = step{op: bindings[b].op, slot: bindings[b].slot}
	}
	return p, nil
}

func bindingOf(name string) int {
	for i, b := range bindings {
		if b.name == name {
			return i
		}
	}
	return -1
}

// jsonText is v as one line of JSON for errors, cut after about limit bytes.
func jsonText(v any, limit int) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	if len(b) <= limit {
		return string(b)
	}
	for limit > 0 && !utf8.RuneStart(b[limit]) {
		limit--
	}
	return string(b[:limit]) + "..."
}
