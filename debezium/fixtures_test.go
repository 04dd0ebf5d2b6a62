package debezium

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thmanyah/enricher/registry"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/thmanyah/enricher/internal/fixtures"
)

// fixturesDir is the repository's copy of ../shared/fixtures/debezium, or
// FIXTURES_DIR, which points the golden tests at another set of the same shape.
func fixturesDir() string {
	if d := os.Getenv("FIXTURES_DIR"); d != "" {
		return d
	}
	return fixtures.Dir()
}

type manifestRecord struct {
	Name  string                       `json:"name"`
	Topic string                       `json:"topic"`
	Op    *string                      `json:"op"`
	Files map[string]map[string]string `json:"files"`
}

func loadManifest(t testing.TB) []manifestRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir(), "manifest.json"))
	if err != nil {
		t.Fatalf("read manifest (set FIXTURES_DIR?): %v", err)
	}
	var m struct {
		Records []manifestRecord `json:"records"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("parse manifest: %v", err)
	}
	if len(m.Records) == 0 {
		t.Fatal("manifest lists no records")
	}
	return m.Records
}

// readFixture returns the Kafka bytes a fixture file stands for: hex is
// decoded, and a file holding exactly "null" is a Kafka null.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) == "null" {
		return nil
	}
	if strings.HasSuffix(name, ".hex") {
		out, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return out
	}
	return b
}

// avroSchemas maps the fixture schema ids to their subjects and files.
var avroSchemas = []struct {
	id            int
	subject, file string
}{
	{1, "thmanyah.public.content-key", "content.key.avsc"},
	{2, "thmanyah.public.content-value", "content.value.avsc"},
	{3, "thmanyah.public.engagement_events-key", "engagement_events.key.avsc"},
	{4, "thmanyah.public.engagement_events-value", "engagement_events.value.avsc"},
}

// newFakeRegistry starts srfake with the fixture schemas at ids 1..4.
func newFakeRegistry(t testing.TB) *srfake.Registry {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	for _, s := range avroSchemas {
		reg.SeedSchema(s.subject, 1, s.id, sr.Schema{Schema: string(readFixture(t, s.file)), Type: sr.TypeAvro})
	}
	return reg
}

func registryDecoder(t testing.TB, url string) *Decoder {
	t.Helper()
	cl, err := registry.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return NewDecoder(cl)
}

// mapSource is an in-memory SchemaSource for benchmarks and fuzzing, where an
// HTTP round trip per new id would only add noise.
type mapSource map[int]string

func (m mapSource) SchemaByID(_ context.Context, id int) (string, error) {
	if s, ok := m[id]; ok {
		return s, nil
	}
	return "", registry.ErrSchemaNotFound
}

func fixtureSource(t testing.TB) mapSource {
	m := mapSource{}
	for _, s := range avroSchemas {
		m[s.id] = string(readFixture(t, s.file))
	}
	return m
}

// decodeFixture decodes one record variant with the decoder its topic needs.
// Heartbeats go through Content; TestFacts checks Engagement agrees.
func decodeFixture(t testing.TB, d *Decoder, rec manifestRecord, files map[string]string) (any, error) {
	key, value := readFixture(t, files["key"]), readFixture(t, files["value"])
	if strings.Contains(rec.Topic, "engagement_events") {
		return d.Engagement(context.Background(), key, value)
	}
	return d.Content(context.Background(), key, value)
}

// render gives an event a stable, readable JSON form for golden files.
func render(v any) ([]byte, error) {
	type source struct {
		Name     string `json:"name"`
		DB       string `json:"db"`
		Schema   string `json:"schema"`
		Table    string `json:"table"`
		Snapshot string `json:"snapshot"`
		TsMs     int64  `json:"ts_ms"`
		LSN      int64  `json:"lsn"`
		TxID     int64  `json:"tx_id"`
	}
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	var out any
	switch ev := v.(type) {
	case ContentEvent:
		type row struct {
			ID            string  `json:"id"`
			Slug          string  `json:"slug"`
			Title         string  `json:"title"`
			ContentType   *string `json:"content_type"`
			LengthSeconds *int32  `json:"length_seconds"`
			PublishTS     string  `json:"publish_ts"`
		}
		r := ev.Row
		g := struct {
			Kind        string `json:"kind"`
			Op          string `json:"op"`
			Key         string `json:"key"`
			Row         *row   `json:"row"`
			Unavailable string `json:"unavailable"`
			Source      source `json:"source"`
		}{Kind: ev.Kind.String(), Op: ev.Op.String(), Key: ev.Key.String(), Unavailable: ev.Unavailable.String(),
			Source: source(ev.Source)}
		if ev.Kind == KindChange {
			g.Row = &row{ID: r.ID.String(), Slug: r.Slug, Title: r.Title, PublishTS: ts(r.PublishTS)}
			if r.ContentType.Valid {
				g.Row.ContentType = &r.ContentType.String
			}
			if r.LengthSeconds.Valid {
				g.Row.LengthSeconds = &r.LengthSeconds.Int32
			}
		}
		out = g
	case EngagementEvent:
		type row struct {
			ID         int64   `json:"id"`
			ContentID  *string `json:"content_id"`
			UserID     *string `json:"user_id"`
			EventType  *string `json:"event_type"`
			EventTs    string  `json:"event_ts"`
			DurationMs *int32  `json:"duration_ms"`
			Device     *string `json:"device"`
			RawPayload *string `json:"raw_payload"` // the JSON text, verbatim
		}
		e := ev.Event
		g := struct {
			Kind   string `json:"kind"`
			Op     string `json:"op"`
			Event  *row   `json:"event"`
			Source source `json:"source"`
		}{Kind: ev.Kind.String(), Op: ev.Op.String(), Source: source(ev.Source)}
		if ev.Kind == KindChange || ev.Kind == KindTombstone {
			g.Event = &row{ID: e.ID, EventTs: ts(e.EventTs)}
			str := func(ok bool, s string) *string {
				if ok {
					return &s
				}
				return nil
			}
			g.Event.ContentID = str(e.ContentID.Valid, e.ContentID.UUID.String())
			g.Event.UserID = str(e.UserID.Valid, e.UserID.String)
			g.Event.EventType = str(e.EventType.Valid, e.EventType.String)
			g.Event.Device = str(e.Device.Valid, e.Device.String)
			g.Event.RawPayload = str(e.RawPayload != nil, string(e.RawPayload))
			if e.DurationMs.Valid {
				g.Event.DurationMs = &e.DurationMs.Int32
			}
		}
		out = g
	default:
		return nil, errors.New("render: not an event")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(out)
	return buf.Bytes(), err
}
