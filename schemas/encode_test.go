package schemas

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

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

// TestEncodeReusedNative checks that a recycled native carries nothing over:
// every pair of records encoded back to back on one Encoder gives the same
// bytes for the second as a fresh Encoder does.
func TestEncodeReusedNative(t *testing.T) {
	for i := range outputCases {
		for j := range outputCases {
			e := newEncoder(t, 1, FramingConfluent)
			if _, err := e.Append(nil, &outputCases[i].out); err != nil {
				t.Fatal(err)
			}
			got, err := e.Append(nil, &outputCases[j].out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := newEncoder(t, 1, FramingConfluent).Append(nil, &outputCases[j].out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%q after %q: got % x, want % x", outputCases[j].name, outputCases[i].name, got, want)
			}
		}
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

// pythonAvro returns a python3 that imports Apache Avro's reference
// implementation. PATH may hold an interpreter (pyenv) that lacks the Debian
// package, so the system one is tried too.
func pythonAvro() (string, bool) {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import avro.io, avro.schema").Run() == nil {
			return path, true
		}
	}
	return "", false
}

const pythonDecode = `
import datetime, io, json, sys
import avro.io, avro.schema

schema = avro.schema.parse(open(sys.argv[1]).read())
reader = avro.io.DatumReader(schema)
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
out = []
for h in json.load(open(sys.argv[2])):
    b = bytes.fromhex(h)
    if b[0] == 0:
        header = {"framing": "confluent", "id": int.from_bytes(b[1:5], "big")}
        body = b[5:]
    elif b[:2] == b"\xc3\x01":
        header = {"framing": "single-object", "fingerprint": str(int.from_bytes(b[2:10], "little"))}
        body = b[10:]
    else:
        sys.exit("unknown framing: " + h[:20])
    buf = io.BytesIO(body)
    rec = reader.read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(body):
        sys.exit("%d trailing bytes" % (len(body) - buf.tell()))
    rec["event_ts"] = (rec["event_ts"] - epoch) // datetime.timedelta(milliseconds=1)
    out.append({"header": header, "record": rec})
json.dump(out, sys.stdout)
`

// TestEncodePythonAvro decodes what we write with Apache Avro's Python
// implementation. Only values are compared: python-avro 1.11 shares goavro's
// canonical-form bug, so its fingerprint is not a reference; its byte order
// reading of ours is.
func TestEncodePythonAvro(t *testing.T) {
	python, ok := pythonAvro()
	if !ok {
		t.Skip("python3 with Apache Avro not found: install it with apt-get install -y python3-avro")
	}
	dir := t.TempDir()
	schemaPath := filepath.Join(dir, "schema.avsc")
	if err := os.WriteFile(schemaPath, []byte(ProcessedEngagement()), 0o644); err != nil {
		t.Fatal(err)
	}
	type sent struct {
		framing string
		out     *Output
	}
	var sents []sent
	var hexes []string
	for _, f := range []struct {
		name string
		enc  *Encoder
	}{
		{"confluent", newEncoder(t, 99, FramingConfluent)},
		{"single-object", newEncoder(t, 0, FramingSingleObject)},
	} {
		for i := range outputCases {
			if outputCases[i].goavroOnly {
				continue
			}
			b, err := f.enc.Append(nil, &outputCases[i].out)
			if err != nil {
				t.Fatal(err)
			}
			sents = append(sents, sent{f.name, &outputCases[i].out})
			hexes = append(hexes, hex.EncodeToString(b))
		}
	}
	in, _ := json.Marshal(hexes)
	inPath := filepath.Join(dir, "records.json")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pythonDecode, schemaPath, inPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var got []struct {
		Header map[string]any `json:"header"`
		Record map[string]any `json:"record"`
	}
	dec := json.NewDecoder(bytes.NewReader(stdout))
	dec.UseNumber() // exact int64 and float64 values
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("python output %s: %v", stdout, err)
	}
	if len(got) != len(sents) {
		t.Fatalf("got %d records from python, want %d", len(got), len(sents))
	}
	fp := strconv.FormatUint(specFingerprint(t), 10)
	for i, s := range sents {
		g := got[i]
		what := fmt.Sprintf("record %d (%s)", i, s.framing)
		switch s.framing {
		case "confluent":
			if g.Header["id"] != json.Number("99") {
				t.Errorf("%s: got id %v, want 99", what, g.Header["id"])
			}
		case "single-object":
			if g.Header["fingerprint"] != fp {
				t.Errorf("%s: got fingerprint %v, want %s", what, g.Header["fingerprint"], fp)
			}
		}
		for k, w := range pythonWant(s.out) {
			if gv := g.Record[k]; !reflect.DeepEqual(gv, w) {
				t.Errorf("%s %s: got %#v, want %#v", what, k, gv, w)
			}
		}
	}
}

// pythonWant is o as python's json.dump of the decoded record reads back
// through json.Decoder.UseNumber.
func pythonWant(o *Output) map[string]any {
	s := func(v sql.NullString) any {
		if !v.Valid {
			return nil
		}
		return v.String
	}
	i := func(v sql.NullInt32) any {
		if !v.Valid {
			return nil
		}
		return json.Number(strconv.Itoa(int(v.Int32)))
	}
	d := func(v sql.NullFloat64) any {
		if !v.Valid {
			return nil
		}
		return json.Number(pythonRepr(v.Float64))
	}
	return map[string]any{
		"event_id":           json.Number(strconv.FormatInt(o.EventID, 10)),
		"content_id":         s(o.ContentID),
		"user_id":            s(o.UserID),
		"event_type":         s(o.EventType),
		"event_ts":           json.Number(strconv.FormatInt(o.EventTs.UnixMilli(), 10)),
		"duration_ms":        i(o.DurationMs),
		"device":             s(o.Device),
		"content_type":       s(o.ContentType),
		"length_seconds":     i(o.LengthSeconds),
		"engagement_seconds": d(o.EngagementSeconds),
		"engagement_pct":     d(o.EngagementPct),
	}
}

// pythonRepr is Python's repr of a double in the range the test values use,
// where Python writes fixed notation with the shortest round-tripping digits.
func pythonRepr(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		panic(fmt.Sprintf("pythonRepr: %v is outside the fixed-notation range", f))
	}
	r := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(r, ".") {
		r += ".0"
	}
	return r
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

// refEncoder is Append written plainly, as the reference of the differential
// tests: check every string, build a fresh goavro native, encode it.
type refEncoder struct {
	codec  *goavro.Codec
	header []byte
}

func newRefEncoder(t testing.TB, id int, framing Framing) *refEncoder {
	t.Helper()
	codec, err := goavro.NewCodec(ProcessedEngagement())
	if err != nil {
		t.Fatal(err)
	}
	r := &refEncoder{codec: codec}
	switch framing {
	case FramingConfluent:
		r.header = binary.BigEndian.AppendUint32([]byte{0}, uint32(id))
	case FramingSingleObject:
		r.header = binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, specFingerprint(t))
	default:
		t.Fatalf("framing %v", framing)
	}
	return r
}

func (r *refEncoder) Append(dst []byte, o *Output) ([]byte, error) {
	for _, f := range [...]struct {
		name string
		v    sql.NullString
	}{
		{"content_id", o.ContentID},
		{"user_id", o.UserID},
		{"event_type", o.EventType},
		{"device", o.Device},
		{"content_type", o.ContentType},
	} {
		if f.v.Valid && !utf8.ValidString(f.v.String) {
			return dst, fmt.Errorf("encode event %d: %s is not valid UTF-8: %q", o.EventID, f.name, f.v.String)
		}
	}
	union := func(valid bool, branch string, v any) any {
		if !valid {
			return nil
		}
		return goavro.Union(branch, v)
	}
	record := map[string]any{
		"event_id":           o.EventID,
		"content_id":         union(o.ContentID.Valid, "string", o.ContentID.String),
		"user_id":            union(o.UserID.Valid, "string", o.UserID.String),
		"event_type":         union(o.EventType.Valid, "string", o.EventType.String),
		"event_ts":           o.EventTs.UnixMilli(),
		"duration_ms":        union(o.DurationMs.Valid, "int", o.DurationMs.Int32),
		"device":             union(o.Device.Valid, "string", o.Device.String),
		"content_type":       union(o.ContentType.Valid, "string", o.ContentType.String),
		"length_seconds":     union(o.LengthSeconds.Valid, "int", o.LengthSeconds.Int32),
		"engagement_seconds": union(o.EngagementSeconds.Valid, "double", o.EngagementSeconds.Float64),
		"engagement_pct":     union(o.EngagementPct.Valid, "double", o.EngagementPct.Float64),
	}
	// A full slice expression so that encoding never writes into the spare
	// capacity of dst, which the caller may share with the encoder under test.
	out, err := r.codec.BinaryFromNative(append(dst[:len(dst):len(dst)], r.header...), record)
	if err != nil {
		return dst, fmt.Errorf("encode event %d: %w", o.EventID, err)
	}
	return out, nil
}

// randOutput returns a record that mixes NULLs, which carry garbage that must
// not be written, with edge values: empty, long, non-ASCII and now and then
// invalid UTF-8 strings, extreme integers, non-finite and negative-zero
// doubles, instants far from 1970 or just before it.
func randOutput(r *rand.Rand) Output {
	pick := func(n int) int { return r.IntN(n) }
	randString := func() string {
		switch pick(10) {
		case 0:
			return ""
		case 1:
			return [...]string{"play", "pause", "finish", "click", "ios", "android", "web", "podcast", "newsletter", "video"}[pick(10)]
		case 2:
			return [...]string{"مستخدم", "بودكاست", "آيفون 📱", "\u0000nul\u0000", "\t\n\r\u007f", "\U0010FFFF", "\uFFFD"}[pick(7)]
		case 3: // long: several varint bytes of length
			var b strings.Builder
			for range 64 + pick(2000) {
				b.WriteRune(rune(0x20 + pick(0x3000)))
			}
			return b.String()
		case 4: // invalid UTF-8, rarely
			if pick(4) == 0 {
				return [...]string{"\xff", "ok\xfe", "\xed\xa0\x80", "\xc0\xaf", "abc\xe2\x82"}[pick(5)]
			}
			return "plain"
		default: // like a UUID
			b := make([]byte, 16)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return hex.EncodeToString(b)
		}
	}
	nullString := func() sql.NullString {
		s := sql.NullString{String: randString(), Valid: true}
		if pick(4) == 0 {
			s.Valid = false // keeps its garbage, invalid UTF-8 included
		}
		return s
	}
	int64s := [...]int64{0, 1, -1, 255, 256, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 1 << 53}
	randInt64 := func() int64 {
		if pick(2) == 0 {
			return int64s[pick(len(int64s))]
		}
		return int64(r.Uint64())
	}
	int32s := [...]int32{0, 1, -1, 63, 64, 255, 256, math.MaxInt32, math.MinInt32}
	nullInt32 := func() sql.NullInt32 {
		v := sql.NullInt32{Int32: int32(r.Uint32()), Valid: pick(4) != 0}
		if pick(2) == 0 {
			v.Int32 = int32s[pick(len(int32s))]
		}
		return v
	}
	doubles := [...]float64{0, math.Copysign(0, -1), math.NaN(), math.Float64frombits(0x7ff8_0000_dead_beef), math.Inf(1), math.Inf(-1),
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1, 100, -0.01}
	nullDouble := func() sql.NullFloat64 {
		v := sql.NullFloat64{Float64: r.NormFloat64() * 1e6, Valid: pick(4) != 0}
		if pick(2) == 0 {
			v.Float64 = doubles[pick(len(doubles))]
		}
		return v
	}
	var ts time.Time
	switch pick(6) {
	case 0: // the zero Time, year 1
	case 1:
		ts = time.Unix(0, -r.Int64N(2e6)) // within 2 ms before 1970
	case 2:
		ts = time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(1e9)).In(time.FixedZone("", 3*3600))
	case 3:
		ts = [...]time.Time{mustTime("9999-12-31T23:59:59.999999999Z"), time.Unix(1<<50, 0), time.Unix(-1<<50, 1)}[pick(3)]
	default:
		ts = time.UnixMilli(1_735_689_600_000 + r.Int64N(1e10)).Add(time.Duration(r.IntN(1e6)))
	}
	return Output{
		EventID:           randInt64(),
		ContentID:         nullString(),
		UserID:            nullString(),
		EventType:         nullString(),
		EventTs:           ts,
		DurationMs:        nullInt32(),
		Device:            nullString(),
		ContentType:       nullString(),
		LengthSeconds:     nullInt32(),
		EngagementSeconds: nullDouble(),
		EngagementPct:     nullDouble(),
	}
}

// checkSame fails unless Append and the reference agree on o appended to
// dst: the same bytes, or the same error with dst returned unchanged.
// It returns what Append returned and whether they agreed.
func checkSame(t testing.TB, e *Encoder, ref *refEncoder, dst []byte, o *Output) (out []byte, agreed bool, err error) {
	t.Helper()
	prefix := bytes.Clone(dst)
	want, wantErr := ref.Append(prefix, o)
	got, err := e.Append(dst, o)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Errorf("event %d: got error %v, want %v", o.EventID, err, wantErr)
		return got, false, err
	}
	if err != nil && (len(got) != len(prefix) || !bytes.Equal(got, prefix)) {
		t.Errorf("event %d: on error got dst changed to % x, want % x", o.EventID, got, prefix)
		return got, false, err
	}
	if !bytes.Equal(got, want) {
		t.Errorf("event %d (%+v):\ngot  % x\nwant % x", o.EventID, *o, got, want)
		return got, false, err
	}
	return got, true, err
}

// encoderModes are the ways an Encoder can fill its natives: boxing every
// value is the only one left since the unsafe aliasing was removed.
var encoderModes = []struct{ name string }{{"boxed"}}

func newEncoderMode(t testing.TB, id int, framing Framing) *Encoder {
	t.Helper()
	return newEncoder(t, id, framing)
}

// TestEncodeMatchesReference encodes random records one after another on
// one Encoder, so that its natives are reused across records whose fields
// switch between NULL and set and across records that fail, and compares
// every result with the reference's.
func TestEncodeMatchesReference(t *testing.T) {
	for _, mode := range encoderModes {
		for _, f := range []struct {
			name string
			id   int
			fr   Framing
		}{{"confluent", 1 << 30, FramingConfluent}, {"single-object", 0, FramingSingleObject}} {
			t.Run(mode.name+"/"+f.name, func(t *testing.T) {
				e := newEncoderMode(t, f.id, f.fr)
				ref := newRefEncoder(t, f.id, f.fr)
				r := rand.New(rand.NewPCG(1, uint64(len(f.name))))
				var dst []byte
				var errs int
				for range 3000 {
					if len(dst) > 1<<16 {
						dst = dst[:r.IntN(4)]
					}
					o := randOutput(r)
					var err error
					var ok bool
					if dst, ok, err = checkSame(t, e, ref, dst, &o); !ok {
						return
					}
					if err != nil {
						errs++
					}
				}
				if errs == 0 {
					t.Error("no record failed: the test covers no invalid UTF-8")
				}
			})
		}
	}
}

// TestEncodeNativeReuse runs one native through a fixed sequence that flips
// every field between NULL and set, with failing records between, and checks
// each body against the reference. Append may get a fresh native from its
// pool at any time (always, now and then, under -race); this does not.
func TestEncodeNativeReuse(t *testing.T) {
	codec, err := goavro.NewCodec(ProcessedEngagement())
	if err != nil {
		t.Fatal(err)
	}
	ref := &refEncoder{codec: codec}
	allSet := outputCases[1].out
	bad := allSet
	bad.ContentType = str("\xff") // the last string checked: all others filled
	badFirst := allSet
	badFirst.ContentID = str("\xff")
	seq := []Output{allSet, outputCases[0].out, allSet, bad, outputCases[0].out, bad, allSet, badFirst, outputCases[2].out}
	r := rand.New(rand.NewPCG(2, 3))
	for range 2000 {
		seq = append(seq, randOutput(r))
	}
	for _, mode := range encoderModes {
		t.Run(mode.name, func(t *testing.T) {
			n := newNative()
			for i := range seq {
				o := &seq[i]
				want, wantErr := ref.Append(nil, o)
				var got []byte
				err := n.fill(o)
				if err == nil {
					got, err = codec.BinaryFromNative(nil, n.record)
				}
				if err != nil {
					err = fmt.Errorf("encode event %d: %w", o.EventID, err)
				}
				if fmt.Sprint(err) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) {
					t.Fatalf("record %d (%+v): got % x, %v; want % x, %v", i, *o, got, err, want, wantErr)
				}
			}
		})
	}
}

// TestEncodeConcurrentMatchesReference has many goroutines append random
// records with one Encoder, each to its own dst; run it with -race.
func TestEncodeConcurrentMatchesReference(t *testing.T) {
	for _, mode := range encoderModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEncoderMode(t, 5, FramingConfluent)
			ref := newRefEncoder(t, 5, FramingConfluent)
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(g), 99))
					dst := make([]byte, 0, 1024)
					for range 300 {
						o := randOutput(r)
						var ok bool
						if dst, ok, _ = checkSame(t, e, ref, dst[:r.IntN(min(len(dst), 8)+1)], &o); !ok {
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func valid(v int32) sql.NullInt32 { return sql.NullInt32{Int32: v, Valid: true} }
