package schemas

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// contractFields is the "Output record" table of CONTRACT.md: these fields,
// in this order, with these types, start the schema.
var contractFields = []struct {
	name string
	typ  string // JSON of the Avro type
}{
	{"event_id", `"long"`},
	{"content_id", `["null","string"]`},
	{"user_id", `["null","string"]`},
	{"event_type", `["null","string"]`},
	{"event_ts", `{"type":"long","logicalType":"timestamp-millis"}`},
	{"duration_ms", `["null","int"]`},
	{"device", `["null","string"]`},
	{"content_type", `["null","string"]`},
	{"length_seconds", `["null","int"]`},
	{"engagement_seconds", `["null","double"]`},
	{"engagement_pct", `["null","double"]`},
}

// field keeps "default" raw because a JSON null must be told apart from an
// absent key, which the json package folds together for pointers.
type field struct {
	Name    string
	Type    json.RawMessage
	Doc     string
	Default json.RawMessage // nil when absent
}

func (f *field) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if err := json.Unmarshal(m["name"], &f.Name); err != nil {
		return fmt.Errorf("field name: %w", err)
	}
	if d, ok := m["doc"]; ok {
		if err := json.Unmarshal(d, &f.Doc); err != nil {
			return fmt.Errorf("field %s doc: %w", f.Name, err)
		}
	}
	f.Type, f.Default = m["type"], m["default"]
	return nil
}

func parseFields(t *testing.T) []field {
	t.Helper()
	var rec struct {
		Type   string  `json:"type"`
		Name   string  `json:"name"`
		Fields []field `json:"fields"`
	}
	if err := json.Unmarshal([]byte(ProcessedEngagement()), &rec); err != nil {
		t.Fatalf("unmarshal schema: %v", err)
	}
	if rec.Type != "record" || rec.Name != "ProcessedEngagement" {
		t.Fatalf("got %s %q, want record %q", rec.Type, rec.Name, "ProcessedEngagement")
	}
	return rec.Fields
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestProcessedEngagementParses(t *testing.T) {
	if _, err := goavro.NewCodec(ProcessedEngagement()); err != nil {
		t.Fatalf("goavro rejects the schema: %v", err)
	}
}

func TestProcessedEngagementMatchesContract(t *testing.T) {
	fields := parseFields(t)
	if len(fields) < len(contractFields) {
		t.Fatalf("got %d fields, want at least %d", len(fields), len(contractFields))
	}
	for i, want := range contractFields {
		got := fields[i]
		if got.Name != want.name {
			t.Errorf("field %d: got name %q, want %q", i, got.Name, want.name)
			continue
		}
		if !jsonEqual(t, got.Type, []byte(want.typ)) {
			t.Errorf("field %s: got type %s, want %s", got.Name, got.Type, want.typ)
		}
		if got.Doc == "" {
			t.Errorf("field %s: no doc", got.Name)
		}
		nullable := want.typ[0] == '['
		switch {
		case nullable && string(got.Default) != "null":
			t.Errorf("field %s: nullable field without \"default\": null", got.Name)
		case !nullable && got.Default != nil:
			t.Errorf("field %s: required field has a default %s", got.Name, got.Default)
		}
	}
}

// TestProcessedEngagementAppendOnly enforces the package's compatibility rule
// on any field added after the contract's: optional, null first, default null.
func TestProcessedEngagementAppendOnly(t *testing.T) {
	for _, f := range parseFields(t)[len(contractFields):] {
		var union []json.RawMessage
		if err := json.Unmarshal(f.Type, &union); err != nil || len(union) < 2 || string(union[0]) != `"null"` {
			t.Errorf("field %s: got type %s, want a union with \"null\" first", f.Name, f.Type)
		}
		if string(f.Default) != "null" {
			t.Errorf("field %s: appended field without \"default\": null", f.Name)
		}
	}
}
