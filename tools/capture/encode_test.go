package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/fixtures"
)

func TestAppendValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		oid  uint32
		in   string
		want string
	}{
		{"int4", oidInt4, "-42", `-42`},
		{"int8", oidInt8, "9007199254740993", `9007199254740993`},
		{"bool true", oidBool, "t", `true`},
		{"bool false", oidBool, "f", `false`},
		{"uuid upper", oidUUID, "C41A7E92-3B5D-4F60-8A1C-9D2E7B4F6A03", `"c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03"`},
		{"timestamptz utc", oidTimestamptz, "2025-03-10 09:20:00+00", `"2025-03-10T09:20:00.000000Z"`},
		{"timestamptz micros", oidTimestamptz, "2025-03-10 09:21:05.377+00", `"2025-03-10T09:21:05.377000Z"`},
		{"timestamptz offset", oidTimestamptz, "2025-03-10 12:50:00.5+03:30", `"2025-03-10T09:20:00.500000Z"`},
		{"timestamptz infinity", oidTimestamptz, "infinity", `"infinity"`},
		{"timestamp", oidTimestamp, "1970-01-01 00:00:01.5", `1500000`},
		{"date", oidDate, "1970-01-03", `2`},
		{"float", oidFloat8, "1.5e+20", `1.5e+20`},
		{"float nan", oidFloat8, "NaN", `"NaN"`},
		{"jsonb", oidJSONB, `{"a": 1, "b": "x"}`, `"{\"a\": 1, \"b\": \"x\"}"`},
		{"text arabic", 25, "فنجان \"الخط\"\n\t\\", `"فنجان \"الخط\"\n\t\\"`},
		{"text control", 25, "a\x01</script>", `"a\u0001</script>"`},
		{"numeric", 1700, "12.340", `"12.340"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendValue(nil, tc.oid, []byte(tc.in))); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// contentTable is the contract's content table as the catalog describes it.
func contentTable() *relation {
	t := newTable("public", "content", "thmanyah")
	t.cols = []column{
		newColumn("id", oidUUID, true), newColumn("slug", 25, true), newColumn("title", 25, true),
		newColumn("content_type", 25, false), newColumn("length_seconds", oidInt4, false),
		newColumn("publish_ts", oidTimestamptz, true),
	}
	t.pk = []int{0}
	return &relation{t: t, cols: t.cols, pk: t.pk}
}

func cells(vals ...any) []cell {
	out := make([]cell, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			out[i] = cell{kind: 'n'}
		case byte:
			out[i] = cell{kind: v}
		case string:
			out[i] = cell{kind: 't', data: []byte(v)}
		}
	}
	return out
}

var payloadTS = regexp.MustCompile(`"op":"(.)","ts_ms":\d+,"ts_us":\d+,"ts_ns":\d+}$`)

// TestEnvelopeGolden encodes the fixtures' rows and compares the bytes with
// the fixtures, except source.version and the connector's own clock.
func TestEnvelopeGolden(t *testing.T) {
	rel := contentTable()
	arabic := cells("c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03", "fnjan-413-arabic-calligraphy",
		"فنجان: رحلة الخط العربي من الكوفي إلى الرقعة", "podcast", "4275", "2025-03-10 09:20:00+00")
	for _, tc := range []struct {
		fixture       string
		op            byte
		before, after []cell
		keyOnly       bool
		src           source
	}{
		{"content-update", 'u', nil, arabic, false, source{snapshot: "false", lastCommit: 62305360, lsn: 62306744, txID: 918460, ts: time.UnixMicro(1741599697662105)}},
		{"content-delete", 'd', cells("a3d90c27-6b14-4f5e-8c02-71e4b9f6d358", nil, nil, nil, nil, nil), nil, true,
			source{snapshot: "false", lastCommit: 62319152, lsn: 62320344, txID: 918471, ts: time.UnixMicro(1741601720871630)}},
		{"content-update-toast", 'u', nil, cells("9d3c5b7e-1f2a-4e8b-a6c9-0b4d2e8f1a36", "long-read-gulf-ports-history", byte('u'), "newsletter", "1380", "2025-03-10 10:00:00+00"), false,
			source{snapshot: "false", lastCommit: 62316488, lsn: 62318904, txID: 918466, ts: time.UnixMicro(1741600968310442)}},
		{"content-snapshot-first", 'r', nil, cells("5b1e3f9a-2c47-4d8e-9f61-0a7c3b2d4e15", "fnjan-412-coffee-economics", "Fnjan 412: The Economics of Coffee", "podcast", "5412", "2025-02-18 17:00:00+00"), false,
			source{snapshot: "first", lsn: 62300656, txID: 918442, ts: time.UnixMicro(1741598102381514)}},
		{"content-truncate", 't', nil, nil, false, source{snapshot: "false", lastCommit: 62449960, lsn: 62452816, txID: 918502, ts: time.UnixMicro(1741651121093526)}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			wantKey, _ := fixtures.Read(tc.fixture + ".plain.key.json")
			want, err := fixtures.Read(tc.fixture + ".plain.value.json")
			if err != nil {
				t.Fatal(err)
			}
			env := newEnvelope("thmanyah", "thmanyah")
			st := &streamer{c: &Capture{m: mustMetrics(t)}, env: env}
			if err := st.add(t.Context(), rel, tc.op, &tc.src, tc.before, tc.after, tc.keyOnly, nil); err != nil {
				t.Fatal(err)
			}
			got := st.pending[0]
			if !bytes.Equal(got.Key, wantKey) {
				t.Errorf("key: got %s, want %s", got.Key, wantKey)
			}
			norm := func(b []byte) string {
				b = bytes.Replace(b, []byte(`"version":"2.7.4.Final"`), []byte(`"version":"`+Version+`"`), 1)
				return payloadTS.ReplaceAllString(string(b), `"op":"$1",TS}`)
			}
			if g, w := norm(got.Value), norm(want); g != w {
				t.Errorf("value:\n got %s\nwant %s", g, w)
			}
			if !json.Valid(got.Value) {
				t.Errorf("invalid JSON: %s", got.Value)
			}
			if tc.op == 'd' && (len(st.pending) != 2 || st.pending[1].Value != nil || !bytes.Equal(st.pending[1].Key, wantKey)) {
				t.Errorf("delete: want a tombstone with the same key after it, got %d records", len(st.pending))
			}
		})
	}
}

func mustMetrics(t *testing.T) *metrics {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewValidates(t *testing.T) {
	ok := Config{PGURL: "postgres://localhost/db", Brokers: []string{"localhost:9092"}}
	for _, tc := range []struct {
		name      string
		mod       func(*Config)
		wantField string
		wantErr   string // the *FieldError's message, or its start
	}{
		{"no url", func(c *Config) { c.PGURL = "" }, "PGURL", "required"},
		{"bad url", func(c *Config) { c.PGURL = "postgres://[::1" }, "PGURL", "cannot parse"},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "Brokers", "no broker given"},
		{"slot", func(c *Config) { c.Slot = "Bad-Slot" }, "Slot", `"Bad-Slot": want lower-case letters, digits and _`},
		{"publication", func(c *Config) { c.Publication = "x;drop" }, "Publication", `"x;drop": want lower-case letters, digits and _`},
		{"table", func(c *Config) { c.Tables = []string{"public.a b"} }, "Tables", `"public.a b": want schema.table of plain identifiers`},
		{"duplicate table", func(c *Config) { c.Tables = []string{"content", "public.content"} }, "Tables", `"public.content" listed twice`},
		{"partitions", func(c *Config) { c.Partitions = -1 }, "Partitions", "-1: want at least 1"},
		{"topic prefix", func(c *Config) { c.TopicPrefix = "a/b" }, "TopicPrefix", `"a/b" is not a valid topic name part`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			_, err := New(cfg)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.wantField || !strings.HasPrefix(fe.Err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want a *FieldError of %s saying %q", err, tc.wantField, tc.wantErr)
			}
		})
	}
	c, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.tables[1].topic; got != "thmanyah.public.engagement_events" {
		t.Fatalf("default topic: got %s", got)
	}
}
