package debezium

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/thmanyah/enricher/registry"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func withSchemaID(b []byte, id byte) []byte {
	out := append([]byte(nil), b...)
	out[1], out[2], out[3], out[4] = 0, 0, 0, id
	return out
}

func TestAvroUnknownSchemaID(t *testing.T) {
	d := registryDecoder(t, newFakeRegistry(t).URL())
	value := withSchemaID(readFixture(t, "content-update.avro.value.hex"), 99)
	_, err := d.Content(context.Background(), nil, value)
	if err == nil || !strings.Contains(err.Error(), "avro schema id 99: not found in registry") {
		t.Fatalf("err = %v", err)
	}
	if Retryable(err) {
		t.Error("unknown schema id must be poison")
	}
	if !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Error("error should wrap ErrSchemaNotFound")
	}
	// An unknown key schema id is poison too, naming the key.
	key := withSchemaID(readFixture(t, "content-update.avro.key.hex"), 98)
	_, err = d.Content(context.Background(), key, readFixture(t, "content-update.plain.value.json"))
	if err == nil || !strings.Contains(err.Error(), "content key: avro schema id 98: not found") || Retryable(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestAvroRegistryDown(t *testing.T) {
	value := readFixture(t, "content-update.avro.value.hex")
	t.Run("closed srfake", func(t *testing.T) {
		reg := srfake.New()
		url := reg.URL()
		reg.Close()
		_, err := registryDecoder(t, url).Content(context.Background(), nil, value)
		if err == nil || !Retryable(err) {
			t.Fatalf("want retryable error, got %v", err)
		}
	})
	t.Run("closed port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = registryDecoder(t, "http://"+addr).Content(context.Background(), nil, value)
		if err == nil || !Retryable(err) || !strings.Contains(err.Error(), "avro schema id 2") {
			t.Fatalf("want retryable error naming the id, got %v", err)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		reg := newFakeRegistry(t)
		reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		})
		_, err := registryDecoder(t, reg.URL()).Content(context.Background(), nil, value)
		if err == nil || !Retryable(err) {
			t.Fatalf("want retryable error, got %v", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := registryDecoder(t, newFakeRegistry(t).URL()).Content(ctx, nil, value)
		if err == nil || !Retryable(err) {
			t.Fatalf("a cancelled lookup must not send the record to the DLQ: %v", err)
		}
	})
}

func TestAvroNoRegistry(t *testing.T) {
	d := NewDecoder(nil)
	for _, tc := range []struct{ key, value string }{
		{"content-update.avro.key.hex", "content-update.avro.value.hex"},
		{"content-update.plain.key.json", "content-update.avro.value.hex"},
		{"content-tombstone.avro.key.hex", "content-tombstone.avro.value.hex"},
	} {
		_, err := d.Content(context.Background(), readFixture(t, tc.key), readFixture(t, tc.value))
		if err == nil || !strings.Contains(err.Error(), "avro record but no schema registry configured") || Retryable(err) {
			t.Errorf("%s/%s: %v", tc.key, tc.value, err)
		}
	}
	_, err := d.Engagement(context.Background(), nil, readFixture(t, "engagement-create-jsonb.avro.value.hex"))
	if err == nil || !strings.Contains(err.Error(), "no schema registry configured") || Retryable(err) {
		t.Errorf("engagement: %v", err)
	}
}

// TestAvroCache checks that codecs are cached per id, that failures are not,
// and that concurrent use is safe (run with -race).
func TestAvroCache(t *testing.T) {
	reg := newFakeRegistry(t)
	var fetches atomic.Int32
	var failNext atomic.Bool
	failNext.Store(true)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			return false
		}
		fetches.Add(1)
		if failNext.CompareAndSwap(true, false) {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	d := registryDecoder(t, reg.URL())
	key, value := readFixture(t, "content-update.avro.key.hex"), readFixture(t, "content-update.avro.value.hex")
	if _, err := d.Content(context.Background(), key, value); !Retryable(err) {
		t.Fatalf("first lookup should fail transiently, got %v", err)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				if _, err := d.Content(context.Background(), key, value); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// 1 failed + at most a few racing first fetches per id (key 1, value 2).
	if n := fetches.Load(); n < 3 || n > 1+2*16 {
		t.Errorf("%d schema fetches", n)
	}
	before := fetches.Load()
	for range 10 {
		if _, err := d.Content(context.Background(), key, value); err != nil {
			t.Fatal(err)
		}
	}
	if fetches.Load() != before {
		t.Error("cached ids were fetched again")
	}
}

func TestAvroUnsupportedSchema(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	reg.SeedSchema("x-value", 1, 2, sr.Schema{Schema: `{"type":"object"}`, Type: sr.TypeJSON})
	_, err := registryDecoder(t, reg.URL()).Content(context.Background(), nil, readFixture(t, "content-update.avro.value.hex"))
	if err == nil || !errors.Is(err, registry.ErrSchemaUnsupported) || Retryable(err) {
		t.Fatalf("err = %v", err)
	}
	d := NewDecoder(mapSource{2: `{"type":"record"}`})
	_, err = d.Content(context.Background(), nil, readFixture(t, "content-update.avro.value.hex"))
	if err == nil || !strings.Contains(err.Error(), "avro schema id 2: invalid schema") || Retryable(err) {
		t.Fatalf("err = %v", err)
	}
}

// TestAvroWrongTable feeds content records to the engagement decoder: the
// writer schema decodes, but the record does not fit.
func TestAvroWrongTable(t *testing.T) {
	d := NewDecoder(fixtureSource(t))
	for file, want := range map[string]string{
		"content-update.avro.value.hex":   `after: field "id": want int64, got string`,
		"content-truncate.avro.value.hex": `record is for table "content", not "engagement_events"`,
	} {
		_, err := d.Engagement(context.Background(), nil, readFixture(t, file))
		if err == nil || Retryable(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", file, err, want)
		}
	}
}
