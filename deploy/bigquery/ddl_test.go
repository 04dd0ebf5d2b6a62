package bigquery

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/thmanyah/enricher/schemas"
)

// column is one column as the DDL declares it, or as the Avro field maps.
type column struct {
	Name, Type, Mode string // Mode: REQUIRED or NULLABLE
}

// avroColumns maps the Avro record's fields onto BigQuery columns, as the
// Kafka Connect BigQuery sink (through the AvroConverter) does.
func avroColumns(t *testing.T, schema []byte) []column {
	t.Helper()
	var rec struct {
		Type   string `json:"type"`
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(schema, &rec); err != nil || rec.Type != "record" {
		t.Fatalf("the Avro schema is not a record: %v", err)
	}
	var out []column
	for _, f := range rec.Fields {
		typ, mode, err := bigQueryType(f.Type)
		if err != nil {
			t.Fatalf("field %s: %v", f.Name, err)
		}
		out = append(out, column{Name: f.Name, Type: typ, Mode: mode})
	}
	return out
}

func bigQueryType(raw json.RawMessage) (typ, mode string, err error) {
	var union []json.RawMessage
	if json.Unmarshal(raw, &union) == nil {
		if len(union) != 2 || string(union[0]) != `"null"` {
			return "", "", fmt.Errorf("union %s is not [\"null\", T]", raw)
		}
		typ, _, err = bigQueryType(union[1])
		return typ, "NULLABLE", err
	}
	var name string
	if json.Unmarshal(raw, &name) != nil {
		var obj struct {
			Type        string `json:"type"`
			LogicalType string `json:"logicalType"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", "", fmt.Errorf("type %s: %v", raw, err)
		}
		switch obj.LogicalType {
		case "timestamp-millis", "timestamp-micros":
			return "TIMESTAMP", "REQUIRED", nil
		case "date":
			return "DATE", "REQUIRED", nil
		case "":
			name = obj.Type
		default:
			return "", "", fmt.Errorf("logical type %s has no mapping here", obj.LogicalType)
		}
	}
	switch name {
	case "long", "int":
		return "INT64", "REQUIRED", nil
	case "double", "float":
		return "FLOAT64", "REQUIRED", nil
	case "string":
		return "STRING", "REQUIRED", nil
	case "boolean":
		return "BOOL", "REQUIRED", nil
	case "bytes":
		return "BYTES", "REQUIRED", nil
	}
	return "", "", fmt.Errorf("type %s has no mapping here", raw)
}

var lineComment = regexp.MustCompile(`--[^\n]*`)

// ddlColumns parses the column list of the CREATE TABLE statement and
// returns it with the rest of that statement (up to its ';').
func ddlColumns(t *testing.T, ddl string) ([]column, string) {
	t.Helper()
	ddl = lineComment.ReplaceAllString(ddl, "")
	start := strings.Index(strings.ToUpper(ddl), "CREATE TABLE")
	if start < 0 {
		t.Fatal("no CREATE TABLE")
	}
	open := strings.IndexByte(ddl[start:], '(') + start
	var defs []string
	depth, angle, quote, from := 0, 0, byte(0), open+1
	end := -1
	for i := open; i < len(ddl) && end < 0; i++ {
		c := ddl[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == '<':
			angle++
		case c == '>':
			angle--
		case c == ')':
			if depth--; depth == 0 {
				defs = append(defs, ddl[from:i])
				end = i
			}
		case c == ',' && depth == 1 && angle == 0:
			defs = append(defs, ddl[from:i])
			from = i + 1
		}
	}
	if end < 0 {
		t.Fatal("the column list is not closed")
	}
	var out []column
	for _, d := range defs {
		d = strings.TrimSpace(d)
		if i := strings.Index(strings.ToUpper(d), "OPTIONS"); i >= 0 {
			d = d[:i]
		}
		name, rest, _ := strings.Cut(d, " ")
		rest = strings.TrimSpace(rest)
		if name == "" || rest == "" {
			t.Fatalf("column definition %q", d)
		}
		// The type: one word, or STRUCT<...> / ARRAY<...> up to its closing '>'.
		typ, after := rest, ""
		if j := strings.IndexByte(rest, '<'); j >= 0 && !strings.ContainsAny(rest[:j], " \t\n") {
			level := 0
			for k := j; k < len(rest); k++ {
				if rest[k] == '<' {
					level++
				} else if rest[k] == '>' {
					if level--; level == 0 {
						typ, after = rest[:k+1], rest[k+1:]
						break
					}
				}
			}
			typ = strings.Join(strings.Fields(typ), " ")
		} else {
			words := strings.Fields(rest)
			typ, after = strings.ToUpper(words[0]), strings.Join(words[1:], " ")
		}
		mode := "NULLABLE"
		if strings.Contains(strings.ToUpper(after), "NOT NULL") {
			mode = "REQUIRED"
		}
		out = append(out, column{Name: strings.Trim(name, "`"), Type: typ, Mode: mode})
	}
	return out, statement(ddl[end+1:])
}

// statement returns s up to its first ';' outside a quoted string.
func statement(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == '\\' {
				i++ // an escaped character, a quote included
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == ';':
			return s[:i]
		}
	}
	return s
}

// connector reads connector.json: a flat {string: string} config holding its
// "name", the body of PUT /connectors/<name>/config.
func connector(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("connector.json")
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]string
	if err := json.Unmarshal(b, &c); err != nil || c["name"] == "" {
		t.Fatalf("connector.json is not a flat {string: string} config with a \"name\": %v", err)
	}
	return c
}

// list splits a Connect list setting ("a,b, c").
func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// keyTransform returns the alias of the one ValueToKey transform and its fields.
func keyTransform(t *testing.T, cfg map[string]string) (alias string, fields []string) {
	t.Helper()
	for _, a := range list(cfg["transforms"]) {
		typ := cfg["transforms."+a+".type"]
		if typ == "" {
			t.Errorf("transform %s has no transforms.%s.type", a, a)
		}
		// The connector matches intermediate tables to destination tables by
		// topic: a transform that renames the topic breaks upsert.
		if strings.HasSuffix(typ, "Router") {
			t.Errorf("transform %s (%s) renames the topic, which upsert does not support", a, typ)
		}
		if typ == "org.apache.kafka.connect.transforms.ValueToKey" {
			if alias != "" {
				t.Errorf("two ValueToKey transforms: %s and %s", alias, a)
			}
			alias, fields = a, list(cfg["transforms."+a+".fields"])
		}
	}
	if alias == "" {
		t.Fatalf("no ValueToKey transform in transforms=%q: the connector merges on a struct key, and the Kafka key is a string", cfg["transforms"])
	}
	return alias, fields
}

// keyColumn is the column the connector writes the record key to
// (kafkaKeyFieldName): a NULLABLE STRUCT of the key fields, each typed and
// moded as the value field ValueToKey copies.
func keyColumn(t *testing.T, cfg map[string]string, value []column) column {
	t.Helper()
	_, fields := keyTransform(t, cfg)
	var sub []string
	for _, f := range fields {
		i := slices.IndexFunc(value, func(c column) bool { return c.Name == f })
		if i < 0 {
			t.Fatalf("ValueToKey field %s is not a field of the Avro record", f)
		}
		d := f + " " + value[i].Type
		if value[i].Mode == "REQUIRED" {
			d += " NOT NULL"
		}
		sub = append(sub, d)
	}
	return column{Name: cfg["kafkaKeyFieldName"], Type: "STRUCT<" + strings.Join(sub, ", ") + ">", Mode: "NULLABLE"}
}

func readSchemaAndDDL(t *testing.T) (avsc []byte, ddl string) {
	t.Helper()
	avsc, err := os.ReadFile("../../schemas/processed_engagement.avsc")
	if err != nil {
		t.Fatal(err)
	}
	if string(avsc) != schemas.ProcessedEngagement() {
		t.Fatal("schemas/processed_engagement.avsc is not the schema the service embeds")
	}
	b, err := os.ReadFile("processed_engagements.sql")
	if err != nil {
		t.Fatal(err)
	}
	return avsc, string(b)
}

func TestDDLMatchesAvroSchema(t *testing.T) {
	avsc, ddl := readSchemaAndDDL(t)
	value := avroColumns(t, avsc)
	if len(value) < 11 || value[0] != (column{"event_id", "INT64", "REQUIRED"}) {
		t.Errorf("the Avro schema maps to %+v; want event_id INT64 REQUIRED first among 11+ fields", value)
	}
	// The connector's table schema: the value's fields, then the key column.
	want := append(slices.Clone(value), keyColumn(t, connector(t), value))
	got, rest := ddlColumns(t, ddl)
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			t.Errorf("column %d: the DDL lacks %+v", i+1, want[i])
		case i >= len(want):
			t.Errorf("column %d: the DDL has %+v, which neither the Avro schema nor the connector's key has", i+1, got[i])
		case got[i] != want[i]:
			t.Errorf("column %d: DDL %+v, want %+v", i+1, got[i], want[i])
		}
	}
	norm := strings.Join(strings.Fields(rest), " ")
	for _, clause := range []string{
		"PARTITION BY DATE(event_ts)",
		"CLUSTER BY content_type, event_type",
		// The connector's MERGE has no partition filter.
		"require_partition_filter = FALSE",
	} {
		if !strings.Contains(norm, clause) {
			t.Errorf("the CREATE TABLE lacks %q (after the columns: %q)", clause, norm)
		}
	}
}

func TestConnectorMatchesDDL(t *testing.T) {
	cfg := connector(t)
	for key, want := range map[string]string{
		"connector.class":               "com.wepay.kafka.connect.bigquery.BigQuerySinkConnector",
		"topics":                        "processed_engagements",
		"key.converter":                 "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":               "io.confluent.connect.avro.AvroConverter",
		"autoCreateTables":              "false",
		"timestampPartitionFieldName":   "event_ts",
		"bigQueryPartitionDecorator":    "false",
		"clusteringPartitionFieldNames": "content_type,event_type",
		"sanitizeTopics":                "true",
		"sanitizeFieldNames":            "true",
		"errors.tolerance":              "all",
	} {
		if got := cfg[key]; got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"project", "defaultDataset", "keyfile", "value.converter.schema.registry.url", "errors.deadletterqueue.topic.name"} {
		if cfg[key] == "" {
			t.Errorf("%s is not set", key)
		}
	}
	// This would add a column the DDL does not have.
	if _, ok := cfg["kafkaDataFieldName"]; ok {
		t.Error("kafkaDataFieldName adds a column that processed_engagements.sql lacks")
	}
	if dlq := cfg["errors.deadletterqueue.topic.name"]; dlq == "enricher.dlq" || dlq == cfg["topics"] {
		t.Errorf("the connector's DLQ %q must be a topic of its own: Connect's error headers are not the service's", dlq)
	}
}

// TestConnectorUpsertsByEventID: the connector deduplicates by event id
// (README, "Deduplication by event id").
func TestConnectorUpsertsByEventID(t *testing.T) {
	cfg := connector(t)
	if got := cfg["upsertEnabled"]; got != "true" {
		t.Errorf("upsertEnabled = %q, want \"true\": rows are merged on the event id", got)
	}
	// The service writes no tombstones; a null value must never delete a row.
	if got := cfg["deleteEnabled"]; got != "" && got != "false" {
		t.Errorf("deleteEnabled = %q, want \"false\"", got)
	}
	if _, fields := keyTransform(t, cfg); !slices.Equal(fields, []string{"event_id"}) {
		t.Errorf("ValueToKey fields = %q, want [event_id]: the merge key is the event id", fields)
	}
	avsc, _ := readSchemaAndDDL(t)
	value := avroColumns(t, avsc)
	key := cfg["kafkaKeyFieldName"]
	switch {
	case key == "":
		t.Error("kafkaKeyFieldName is not set: upsert needs it, and it names the DDL's key column")
	case slices.ContainsFunc(value, func(c column) bool { return c.Name == key }):
		t.Errorf("kafkaKeyFieldName %q is also a field of the value", key)
	}
	if kc := keyColumn(t, cfg, value); kc.Type != "STRUCT<event_id INT64 NOT NULL>" {
		t.Errorf("the key column is %+v, want STRUCT<event_id INT64 NOT NULL>", kc)
	}
	interval, err := strconv.ParseInt(cfg["mergeIntervalMs"], 10, 64)
	if err != nil || interval < 10_000 {
		t.Errorf("mergeIntervalMs = %q, want a number of ms of at least 10000 (the connector's lower bound)", cfg["mergeIntervalMs"])
	}
	if v := cfg["mergeRecordsThreshold"]; v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n == 0 || n < -1 {
			t.Errorf("mergeRecordsThreshold = %q, want -1 or a positive count", v)
		}
	}
	if cfg["intermediateTableSuffix"] == "" {
		t.Error("intermediateTableSuffix is not set")
	}
	// Upsert goes through insertAll into intermediate tables; the connector
	// refuses it together with the Storage Write API or GCS batch loading.
	for _, key := range []string{"useStorageWriteApi", "enableBatchLoad", "enableBatchMode"} {
		if v, ok := cfg[key]; ok && v != "false" && v != "" {
			t.Errorf("%s = %q does not go with upsertEnabled", key, v)
		}
	}
}

// TestDedupView: the DDL's view keeps one row per event_id, whatever the
// connector's mode.
func TestDedupView(t *testing.T) {
	_, ddl := readSchemaAndDDL(t)
	norm := strings.Join(strings.Fields(lineComment.ReplaceAllString(ddl, "")), " ")
	i := strings.Index(norm, "CREATE OR REPLACE VIEW `${BQ_PROJECT}.${BQ_DATASET}.processed_engagements_dedup`")
	if i < 0 {
		t.Fatal("the DDL lacks CREATE OR REPLACE VIEW `${BQ_PROJECT}.${BQ_DATASET}.processed_engagements_dedup`")
	}
	view := statement(norm[i:])
	for _, part := range []string{
		"SELECT * EXCEPT (" + connector(t)["kafkaKeyFieldName"] + ")",
		"FROM `${BQ_PROJECT}.${BQ_DATASET}.processed_engagements`",
		"QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY ",
	} {
		if !strings.Contains(view, part) {
			t.Errorf("the view lacks %q: %s", part, view)
		}
	}
	if !strings.HasSuffix(view, ") = 1") {
		t.Errorf("the view does not end with QUALIFY ... = 1: %s", view)
	}
}
