package schemas

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func str(s string) sql.NullString   { return sql.NullString{String: s, Valid: true} }
func dbl(f float64) sql.NullFloat64 { return sql.NullFloat64{Float64: f, Valid: true} }
func mustTime(s string) time.Time {
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return ts
}

// outputCases are the records of the round-trip tests, Go's and Python's.
// goavroOnly marks values Python's datetime cannot hold.
var outputCases = []struct {
	name       string
	out        Output
	goavroOnly bool
}{
	{name: "all NULL", out: Output{EventID: 1, EventTs: mustTime("2025-01-01T12:30:00Z")}},
	{name: "all set", out: Output{
		EventID:           42,
		ContentID:         str("6f1c5a0e-3b8e-4d6a-9a65-2f1b7f0c9d11"),
		UserID:            str("0b7e2a64-1c3d-4f5e-8a9b-c0d1e2f3a4b5"),
		EventType:         str("play"),
		EventTs:           mustTime("2025-01-01T12:30:00.123Z"),
		DurationMs:        valid(12340),
		Device:            str("ios"),
		ContentType:       str("podcast"),
		LengthSeconds:     valid(1200),
		EngagementSeconds: sql.NullFloat64{Float64: 12.34, Valid: true},
		EngagementPct:     sql.NullFloat64{Float64: 0.01, Valid: true},
	}},
	{name: "arabic and empty strings", out: Output{
		EventID:     7,
		ContentID:   str(""),
		UserID:      str("مستخدم"),
		EventType:   str("تشغيل"),
		EventTs:     mustTime("2025-03-01T00:00:00.5+03:00"),
		Device:      str("آيفون 📱"),
		ContentType: str("بودكاست"),
	}},
	{name: "large values", out: Output{
		EventID:           math.MaxInt64,
		EventTs:           mustTime("9999-12-31T23:59:59.999Z"),
		DurationMs:        valid(math.MaxInt32),
		LengthSeconds:     valid(1),
		EngagementSeconds: sql.NullFloat64{Float64: 2147483.647, Valid: true},
		EngagementPct:     sql.NullFloat64{Float64: 2147483.65, Valid: true},
	}},
	{name: "negatives and sub-millisecond before 1970", out: Output{
		EventID:       -1,
		EventTs:       mustTime("1969-12-31T23:59:59.9995Z"), // floors to -1 ms
		DurationMs:    valid(-5),
		LengthSeconds: valid(math.MinInt32),
		EngagementPct: dbl(-0.01),
	}},
	{name: "zero time", out: Output{EventID: 0}, goavroOnly: true},
}

func newEncoder(t testing.TB, id int, framing Framing) *Encoder {
	t.Helper()
	e, err := NewEncoder(id, framing)
	if err != nil {
		t.Fatalf("NewEncoder(%d, %v): %v", id, framing, err)
	}
	return e
}

func specFingerprint(t testing.TB) uint64 {
	t.Helper()
	pcf, err := CanonicalForm(ProcessedEngagement())
	if err != nil {
		t.Fatal(err)
	}
	return Fingerprint64([]byte(pcf))
}

// wantNative is what goavro decodes o into.
func wantNative(o *Output) map[string]any {
	s := func(v sql.NullString) any {
		if !v.Valid {
			return nil
		}
		return map[string]any{"string": v.String}
	}
	i := func(v sql.NullInt32) any {
		if !v.Valid {
			return nil
		}
		return map[string]any{"int": v.Int32}
	}
	d := func(v sql.NullFloat64) any {
		if !v.Valid {
			return nil
		}
		return map[string]any{"double": v.Float64}
	}
	return map[string]any{
		"event_id":           o.EventID,
		"content_id":         s(o.ContentID),
		"user_id":            s(o.UserID),
		"event_type":         s(o.EventType),
		"event_ts":           time.UnixMilli(o.EventTs.UnixMilli()).UTC(),
		"duration_ms":        i(o.DurationMs),
		"device":             s(o.Device),
		"content_type":       s(o.ContentType),
		"length_seconds":     i(o.LengthSeconds),
		"engagement_seconds": d(o.EngagementSeconds),
		"engagement_pct":     d(o.EngagementPct),
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	codec, err := goavro.NewCodec(ProcessedEngagement())
	if err != nil {
		t.Fatal(err)
	}
	fp := binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, specFingerprint(t))
	framings := []struct {
		name   string
		enc    *Encoder
		header []byte
	}{
		{"confluent", newEncoder(t, 258, FramingConfluent), []byte{0, 0, 0, 1, 2}},
		{"single-object", newEncoder(t, 0, FramingSingleObject), fp},
	}
	for _, f := range framings {
		for _, tt := range outputCases {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				b, err := f.enc.Append(nil, &tt.out)
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if !bytes.HasPrefix(b, f.header) {
					t.Fatalf("got header % x, want % x", b[:min(len(b), len(f.header))], f.header)
				}
				got, rest, err := codec.NativeFromBinary(b[len(f.header):])
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if len(rest) != 0 {
					t.Errorf("got %d trailing bytes", len(rest))
				}
				want := wantNative(&tt.out)
				gotMap := got.(map[string]any)
				for k, w := range want {
					if g := gotMap[k]; !reflect.DeepEqual(g, w) {
						t.Errorf("%s: got %#v, want %#v", k, g, w)
					}
				}
				if len(gotMap) != len(want) {
					t.Errorf("got %d fields, want %d", len(gotMap), len(want))
				}
			})
		}
	}
}

func TestEncodeHeaders(t *testing.T) {
	o := outputCases[1].out
	b, err := newEncoder(t, 0x01020304, FramingConfluent).Append(nil, &o)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x00, 0x01, 0x02, 0x03, 0x04}; !bytes.Equal(b[:5], want) {
		t.Errorf("confluent: got % x, want % x", b[:5], want)
	}
	b, err = newEncoder(t, 0, FramingSingleObject).Append(nil, &o)
	if err != nil {
		t.Fatal(err)
	}
	fp := specFingerprint(t)
	if b[0] != 0xC3 || b[1] != 0x01 {
		t.Errorf("single-object: got marker % x, want c3 01", b[:2])
	}
	if got := binary.LittleEndian.Uint64(b[2:10]); got != fp {
		t.Errorf("single-object: got fingerprint %#x, want %#x", got, fp)
	}
	codec, err := goavro.NewCodec(ProcessedEngagement())
	if err != nil {
		t.Fatal(err)
	}
	if codec.Rabin == fp {
		t.Logf("goavro's fingerprint now matches the spec's; issue #174 is fixed")
	}
}

func TestEncodeGolden(t *testing.T) {
	o := outputCases[1].out
	for _, tt := range []struct {
		file string
		enc  *Encoder
	}{
		{"processed_engagement.confluent.golden", newEncoder(t, 7, FramingConfluent)},
		{"processed_engagement.single_object.golden", newEncoder(t, 0, FramingSingleObject)},
	} {
		b, err := tt.enc.Append(nil, &o)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, tt.file, hex.EncodeToString(b)+"\n")
	}
}

func TestEncodeAppendsAndKeepsDst(t *testing.T) {
	e := newEncoder(t, 1, FramingConfluent)
	a, err := e.Append(nil, &outputCases[0].out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Append(nil, &outputCases[1].out)
	if err != nil {
		t.Fatal(err)
	}
	dst := []byte("prefix")
	dst, err = e.Append(dst, &outputCases[0].out)
	if err != nil {
		t.Fatal(err)
	}
	dst, err = e.Append(dst, &outputCases[1].out)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte("prefix"), a...), b...)
	if !bytes.Equal(dst, want) {
		t.Errorf("got % x, want % x", dst, want)
	}

	bad := outputCases[1].out
	bad.Device = str("\xff\xfe")
	got, err := e.Append(dst, &bad)
	if err == nil || !strings.Contains(err.Error(), "device is not valid UTF-8") {
		t.Errorf("got error %v, want device is not valid UTF-8", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("on error got dst % x, want it unchanged", got)
	}
}

func TestEncodeConcurrent(t *testing.T) {
	e := newEncoder(t, 3, FramingConfluent)
	want := make([][]byte, len(outputCases))
	for i := range outputCases {
		b, err := e.Append(nil, &outputCases[i].out)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = b
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			var buf []byte
			for n := 0; n < 500; n++ {
				i := (g + n) % len(outputCases)
				var err error
				buf, err = e.Append(buf[:0], &outputCases[i].out)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(buf, want[i]) {
					t.Errorf("goroutine %d record %d: got % x, want % x", g, i, buf, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewEncoderErrors(t *testing.T) {
	tests := []struct {
		name    string
		id      int
		framing Framing
		want    string
	}{
		{"confluent id 0", 0, FramingConfluent, "out of range"},
		{"confluent negative id", -1, FramingConfluent, "out of range"},
		{"confluent id past int32", math.MaxInt32 + 1, FramingConfluent, "out of range"},
		{"single-object with id", 5, FramingSingleObject, "single-object"},
		{"unknown framing", 1, Framing(9), "unknown framing Framing(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEncoder(tt.id, tt.framing)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRegisterSchema(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id1, err := Register(ctx, newRegistry(t, reg.URL()))
	if err != nil {
		t.Fatalf("first Register: %v", err)
	}
	id2, err := Register(ctx, newRegistry(t, reg.URL()))
	if err != nil {
		t.Fatalf("second Register: %v", err)
	}
	if id1 != id2 {
		t.Errorf("got ids %d then %d, want the same", id1, id2)
	}
	versions, err := cl.SubjectVersions(ctx, Subject)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 1 {
		t.Errorf("got versions %v, want one", versions)
	}

	// A consumer resolving the id from the registry decodes what we wrote.
	b, err := newEncoder(t, id1, FramingConfluent).Append(nil, &outputCases[1].out)
	if err != nil {
		t.Fatal(err)
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	s, err := cl.SchemaByID(ctx, id)
	if err != nil {
		t.Fatalf("SchemaByID(%d): %v", id, err)
	}
	codec, err := goavro.NewCodec(s.Schema)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := codec.NativeFromBinary(b[5:])
	if err != nil {
		t.Fatal(err)
	}
	if want := wantNative(&outputCases[1].out); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRegisterSchemaError(t *testing.T) {
	reg := srfake.New()
	rc := newRegistry(t, reg.URL())
	reg.Close()
	if _, err := Register(context.Background(), rc); err == nil || !strings.Contains(err.Error(), "register output schema") || !strings.Contains(err.Error(), Subject) {
		t.Errorf("got error %v, want one naming the output schema and %s", err, Subject)
	}
}

func BenchmarkEncode(b *testing.B) {
	o := outputCases[1].out
	for _, f := range []struct {
		name string
		id   int
		fr   Framing
	}{
		{"confluent", 1, FramingConfluent},
		{"single-object", 0, FramingSingleObject},
	} {
		b.Run(f.name, func(b *testing.B) {
			e := newEncoder(b, f.id, f.fr)
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = e.Append(buf[:0], &o)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func valid(v int32) sql.NullInt32 { return sql.NullInt32{Int32: v, Valid: true} }
