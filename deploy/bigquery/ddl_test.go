package bigquery

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
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
// returns it with what follows the list.
func ddlColumns(t *testing.T, ddl string) ([]column, string) {
	t.Helper()
	ddl = lineComment.ReplaceAllString(ddl, "")
	start := strings.Index(strings.ToUpper(ddl), "CREATE TABLE")
	if start < 0 {
		t.Fatal("no CREATE TABLE")
	}
	open := strings.IndexByte(ddl[start:], '(') + start
	var defs []string
	depth, quote, from := 0, byte(0), open+1
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
		case c == ')':
			if depth--; depth == 0 {
				defs = append(defs, ddl[from:i])
				end = i
			}
		case c == ',' && depth == 1:
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
		words := strings.Fields(d)
		if len(words) < 2 {
			t.Fatalf("column definition %q", d)
		}
		mode := "NULLABLE"
		if strings.Contains(strings.ToUpper(strings.Join(words[2:], " ")), "NOT NULL") {
			mode = "REQUIRED"
		}
		out = append(out, column{Name: strings.Trim(words[0], "`"), Type: strings.ToUpper(words[1]), Mode: mode})
	}
	return out, ddl[end+1:]
}

func TestDDLMatchesAvroSchema(t *testing.T) {
	avsc, err := os.ReadFile("../../schemas/processed_engagement.avsc")
	if err != nil {
		t.Fatal(err)
	}
	if string(avsc) != schemas.ProcessedEngagement() {
		t.Fatal("schemas/processed_engagement.avsc is not the schema the service embeds")
	}
	ddl, err := os.ReadFile("processed_engagements.sql")
	if err != nil {
		t.Fatal(err)
	}
	want := avroColumns(t, avsc)
	got, rest := ddlColumns(t, string(ddl))
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			t.Errorf("column %d: the DDL lacks %+v", i+1, want[i])
		case i >= len(want):
			t.Errorf("column %d: the DDL has %+v, which the Avro schema lacks", i+1, got[i])
		case got[i] != want[i]:
			t.Errorf("column %d: DDL %+v, Avro schema maps to %+v", i+1, got[i], want[i])
		}
	}
	if len(want) < 11 || want[0] != (column{"event_id", "INT64", "REQUIRED"}) {
		t.Errorf("the Avro schema maps to %+v; want event_id INT64 REQUIRED first among 11+ fields", want)
	}
	norm := strings.Join(strings.Fields(rest), " ")
	for _, clause := range []string{"PARTITION BY DATE(event_ts)", "CLUSTER BY content_type, event_type"} {
		if !strings.Contains(norm, clause) {
			t.Errorf("the DDL lacks %q (after the columns: %q)", clause, norm)
		}
	}
}

func TestConnectorMatchesDDL(t *testing.T) {
	b, err := os.ReadFile("connector.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Name == "" {
		t.Fatalf("bigquery.json is not {\"name\", \"config\": {string: string}}: %v", err)
	}
	for key, want := range map[string]string{
		"connector.class":               "com.wepay.kafka.connect.bigquery.BigQuerySinkConnector",
		"topics":                        "processed_engagements",
		"value.converter":               "io.confluent.connect.avro.AvroConverter",
		"autoCreateTables":              "false",
		"timestampPartitionFieldName":   "event_ts",
		"bigQueryPartitionDecorator":    "false",
		"clusteringPartitionFieldNames": "content_type,event_type",
		"sanitizeTopics":                "true",
		"sanitizeFieldNames":            "true",
		"errors.tolerance":              "all",
	} {
		if got := c.Config[key]; got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"project", "defaultDataset", "keyfile", "value.converter.schema.registry.url", "errors.deadletterqueue.topic.name"} {
		if c.Config[key] == "" {
			t.Errorf("%s is not set", key)
		}
	}
	// These would add columns the DDL does not have.
	for _, key := range []string{"kafkaKeyFieldName", "kafkaDataFieldName"} {
		if _, ok := c.Config[key]; ok {
			t.Errorf("%s adds a column that processed_engagements.sql lacks", key)
		}
	}
	if dlq := c.Config["errors.deadletterqueue.topic.name"]; dlq == "enricher.dlq" || dlq == c.Config["topics"] {
		t.Errorf("the connector's DLQ %q must be a topic of its own: Connect's error headers are not the service's", dlq)
	}
}
