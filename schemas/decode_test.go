package schemas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/thmanyah/enricher/registry"
)

func TestDecoderRoundTrip(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	id, err := Register(context.Background(), newRegistry(t, reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	in := Output{EventID: 42, ContentID: sql.NullString{String: "5b1e3f9a-2c47-4d8e-9f61-0a7c3b2d4e15", Valid: true},
		EventTs: time.Date(2025, 3, 10, 9, 21, 5, 377e6, time.UTC), DurationMs: sql.NullInt32{Int32: 5411000, Valid: true},
		ContentType: sql.NullString{String: "podcast", Valid: true}, LengthSeconds: sql.NullInt32{Int32: 5412, Valid: true},
		EngagementSeconds: sql.NullFloat64{Float64: 5411, Valid: true}, EngagementPct: sql.NullFloat64{Float64: 1, Valid: true}}
	for _, tc := range []struct {
		name    string
		id      int
		framing Framing
		src     SchemaSource
	}{
		{"single-object", 0, FramingSingleObject, nil},
		{"confluent with registry", id, FramingConfluent, newRegistry(t, reg.URL())},
		{"confluent without registry", id, FramingConfluent, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := NewEncoder(tc.id, tc.framing)
			if err != nil {
				t.Fatal(err)
			}
			b, err := enc.Append(nil, &in)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := NewDecoder(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dec.Decode(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			if got != in {
				t.Fatalf("got %+v\nwant %+v", got, in)
			}
		})
	}
}

func TestDecoderPoison(t *testing.T) {
	dec, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"json", []byte(`{"event_id":1}`)},
		{"wrong fingerprint", []byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 2}},
		{"truncated body", []byte{0, 0, 0, 0, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := dec.Decode(context.Background(), tc.b); !errors.Is(err, ErrNotOutput) {
				t.Fatalf("got %v, want ErrNotOutput", err)
			}
		})
	}
}

func newRegistry(t *testing.T, url string) *registry.Client {
	t.Helper()
	c, err := registry.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPoison(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"not an output record", fmt.Errorf("decode: %w", ErrNotOutput), true},
		{"schema not found", fmt.Errorf("schema id 7: %w", registry.ErrSchemaNotFound), true},
		{"schema unsupported", fmt.Errorf("schema id 7: %w", registry.ErrSchemaUnsupported), true},
		{"registry unreachable", errors.New("dial tcp: connection refused"), false},
		{"timeout", context.DeadlineExceeded, false},
	} {
		if got := Poison(tc.err); got != tc.want {
			t.Errorf("%s: Poison(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
