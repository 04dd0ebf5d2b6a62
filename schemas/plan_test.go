package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

// alteredSchema is ProcessedEngagement with its fields changed by alter.
func alteredSchema(t *testing.T, alter func(fields []any) []any) string {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal([]byte(ProcessedEngagement()), &rec); err != nil {
		t.Fatal(err)
	}
	rec["fields"] = alter(rec["fields"].([]any))
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setField returns an alter function that sets key of field i to the JSON v.
func setField(i int, key, v string) func([]any) []any {
	return func(fields []any) []any {
		var x any
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			panic(err)
		}
		fields[i].(map[string]any)[key] = x
		return fields
	}
}

func TestCompilePlan(t *testing.T) {
	tests := []struct {
		name   string
		schema func(t *testing.T) string
		want   string // in the error; empty: compiles
	}{
		{"the real schema", func(*testing.T) string { return ProcessedEngagement() }, ""},
		{"the real schema, keys reordered", func(t *testing.T) string {
			return alteredSchema(t, setField(4, "type", `{"logicalType":"timestamp-millis","type":"long"}`))
		}, ""},
		{"renamed field", func(t *testing.T) string { return alteredSchema(t, setField(2, "name", `"userid"`)) },
			`field 2 "userid": no field of Output is bound to it`},
		{"reordered fields", func(t *testing.T) string {
			return alteredSchema(t, func(f []any) []any { f[1], f[2] = f[2], f[1]; return f })
		}, `field 1 "user_id": out of order, the writer expects "content_id" here`},
		{"int where long", func(t *testing.T) string { return alteredSchema(t, setField(0, "type", `"int"`)) },
			`field 0 "event_id": type "int" is not "long"`},
		{"long as an object", func(t *testing.T) string { return alteredSchema(t, setField(0, "type", `{"type":"long"}`)) },
			`field 0 "event_id": type {"type":"long"} is not "long"`},
		{"nullable event_id", func(t *testing.T) string { return alteredSchema(t, setField(0, "type", `["null","long"]`)) },
			`field 0 "event_id": type ["null","long"]`},
		{"union order swapped", func(t *testing.T) string { return alteredSchema(t, setField(3, "type", `["string","null"]`)) },
			`output schema field 3 "event_type": type ["string","null"] is not ["null","string"]; the specialised writer covers only`},
		{"string not nullable", func(t *testing.T) string { return alteredSchema(t, setField(6, "type", `"string"`)) },
			`field 6 "device": type "string" is not ["null","string"]`},
		{"int widened to long", func(t *testing.T) string { return alteredSchema(t, setField(5, "type", `["null","long"]`)) },
			`field 5 "duration_ms": type ["null","long"] is not ["null","int"]`},
		{"double narrowed to float", func(t *testing.T) string { return alteredSchema(t, setField(10, "type", `["null","float"]`)) },
			`field 10 "engagement_pct": type ["null","float"]`},
		{"three-branch union", func(t *testing.T) string { return alteredSchema(t, setField(8, "type", `["null","int","string"]`)) },
			`field 8 "length_seconds": type ["null","int","string"]`},
		{"missing logicalType", func(t *testing.T) string { return alteredSchema(t, setField(4, "type", `"long"`)) },
			`field 4 "event_ts": type "long" is not {"type":"long","logicalType":"timestamp-millis"}`},
		{"logicalType in an object without it", func(t *testing.T) string { return alteredSchema(t, setField(4, "type", `{"type":"long"}`)) },
			`field 4 "event_ts": type {"type":"long"}`},
		{"different logicalType", func(t *testing.T) string {
			return alteredSchema(t, setField(4, "type", `{"type":"long","logicalType":"timestamp-micros"}`))
		}, `field 4 "event_ts": type {"logicalType":"timestamp-micros","type":"long"}`},
		{"logicalType on the field", func(t *testing.T) string {
			return alteredSchema(t, func(f []any) []any {
				f[4].(map[string]any)["type"] = "long"
				f[4].(map[string]any)["logicalType"] = "timestamp-millis"
				return f
			})
		}, `field 4 "event_ts": type "long"`},
		{"non-null default on a union", func(t *testing.T) string { return alteredSchema(t, setField(1, "default", `"none"`)) },
			`field 1 "content_id": default "none" is not null`},
		{"default on a required field", func(t *testing.T) string { return alteredSchema(t, setField(0, "default", `0`)) },
			`field 0 "event_id": default 0 is not null`},
		{"extra appended optional field", func(t *testing.T) string {
			return alteredSchema(t, func(f []any) []any {
				return append(f, map[string]any{"name": "region", "type": []any{"null", "string"}, "default": nil})
			})
		}, `field 11 "region": no field of Output is bound to it`},
		{"missing field", func(t *testing.T) string {
			return alteredSchema(t, func(f []any) []any { return append(f[:6:6], f[7:]...) })
		}, `output schema lacks field "device", Output.Device`},
		{"missing last field", func(t *testing.T) string { return alteredSchema(t, func(f []any) []any { return f[:10] }) },
			`output schema lacks field "engagement_pct", Output.EngagementPct`},
		{"no fields", func(t *testing.T) string { return alteredSchema(t, func([]any) []any { return []any{} }) },
			`output schema lacks field "event_id", Output.EventID`},
		{"duplicated field", func(t *testing.T) string {
			return alteredSchema(t, func(f []any) []any { return append(f, f[7]) })
		}, `field 11 "content_type": duplicates field 7`},
		{"field not an object", func(t *testing.T) string {
			return alteredSchema(t, func(f []any) []any { f[2] = "user_id"; return f })
		}, `field 2 "": not an object with a name`},
		{"field name with a newline", func(t *testing.T) string { return alteredSchema(t, setField(9, "name", `"a\nb"`)) },
			`field 9 "a\nb": no field`},
		{"fields not an array", func(*testing.T) string { return `{"type":"record","name":"R","fields":{}}` },
			"output schema record has no fields array"},
		{"not a record", func(*testing.T) string { return `"long"` }, `output schema is not a record but "long"`},
		{"a union of the record", func(*testing.T) string { return `["null",` + ProcessedEngagement() + `]` },
			`output schema is not a record but ["null",{`},
		{"an enum", func(*testing.T) string { return `{"type":"enum","name":"E","symbols":["A"]}` },
			`output schema is not a record but {"name":"E"`},
		{"not JSON", func(*testing.T) string { return ProcessedEngagement()[:100] }, "output schema is not JSON: "},
		{"trailing data", func(*testing.T) string { return ProcessedEngagement() + "{}" }, "output schema is not JSON: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := compilePlan(tt.schema(t))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got error %v", err)
				}
				if len(p) != len(bindings) {
					t.Fatalf("got %d steps, want %d", len(p), len(bindings))
				}
				for i, b := range bindings {
					if p[i] != (step{b.op, b.slot}) {
						t.Errorf("step %d: got %+v, want %+v", i, p[i], step{b.op, b.slot})
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("compiled to %+v, want an error containing %q", p, tt.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("got error %q, want one line containing %q", msg, tt.want)
			}
		})
	}
}

// TestBindingsCoverOutput checks that each string, int and double slot is
// bound exactly once, so that Append's arrays and the bindings agree.
func TestBindingsCoverOutput(t *testing.T) {
	counts := map[opKind]map[uint8]int{}
	for _, b := range bindings {
		if counts[b.op] == nil {
			counts[b.op] = map[uint8]int{}
		}
		counts[b.op][b.slot]++
		if b.op == opOptString && stringFields[b.slot] != b.name {
			t.Errorf("%s: string slot %d is named %q in errors", b.name, b.slot, stringFields[b.slot])
		}
	}
	for op, n := range map[opKind]int{opLong: 1, opTimestampMillis: 1, opOptString: numStringSlots, opOptInt: 2, opOptDouble: 2} {
		if len(counts[op]) != n {
			t.Errorf("op %d: got slots %v, want %d slots bound once each", op, counts[op], n)
		}
		for slot, c := range counts[op] {
			if int(slot) >= n || c != 1 {
				t.Errorf("op %d: slot %d bound %d times (want slots 0..%d, once each)", op, slot, c, n-1)
			}
		}
	}
}
