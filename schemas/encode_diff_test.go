package schemas

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/linkedin/goavro/v2"
)

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
// dst: the same bytes, or the same error with dst returned unchanged, its
// spare capacity included. It returns what Append returned and whether they
// agreed.
func checkSame(t testing.TB, e *Encoder, ref *refEncoder, dst []byte, o *Output) (out []byte, agreed bool, err error) {
	t.Helper()
	prefix := bytes.Clone(dst)
	spare := bytes.Clone(dst[len(dst):cap(dst)])
	want, wantErr := ref.Append(prefix, o)
	got, err := e.Append(dst, o)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Errorf("event %d: got error %v, want %v", o.EventID, err, wantErr)
		return got, false, err
	}
	if err != nil {
		if len(got) != len(prefix) || !bytes.Equal(got, prefix) || !bytes.Equal(got[len(got):cap(dst)], spare) {
			t.Errorf("event %d: on error got dst changed to % x, want % x", o.EventID, got[:cap(dst)], append(prefix, spare...))
			return got, false, err
		}
		return got, true, err
	}
	if !bytes.Equal(got, want) {
		t.Errorf("event %d (%+v):\ngot  % x\nwant % x", o.EventID, *o, got, want)
		return got, false, err
	}
	return got, true, err
}

var diffFramings = []struct {
	name string
	id   int
	fr   Framing
}{{"confluent", 1 << 30, FramingConfluent}, {"single-object", 0, FramingSingleObject}}

// TestEncodeMatchesReference appends random records one after another to one
// dst, whose spare capacity keeps earlier records' bytes, and compares every
// result with the reference's.
func TestEncodeMatchesReference(t *testing.T) {
	for _, f := range diffFramings {
		t.Run(f.name, func(t *testing.T) {
			e := newEncoder(t, f.id, f.fr)
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

// TestEncodeSequenceMatchesReference runs one Encoder through a fixed
// sequence that flips every field between NULL and set, singly and all
// together, with failing records between, so that nothing a record leaves
// behind (in the Encoder or in dst's spare capacity) can reach the next one
// unnoticed.
func TestEncodeSequenceMatchesReference(t *testing.T) {
	allSet, allNull := outputCases[1].out, nullGarbage
	bad := allSet
	bad.ContentType = str("\xff") // the last string checked: all others pass
	badFirst := allSet
	badFirst.ContentID = str("\xff")
	seq := []Output{allSet, allNull, allSet, bad, allNull, bad, allSet, badFirst, outputCases[2].out, badFirst, allNull}
	for _, copyField := range fieldCopies {
		only, but := allNull, allSet
		copyField(&only, &allSet)
		copyField(&but, &allNull)
		seq = append(seq, only, bad, but, allSet, only, allNull, but, badFirst)
	}
	for _, f := range diffFramings {
		t.Run(f.name, func(t *testing.T) {
			e := newEncoder(t, f.id, f.fr)
			ref := newRefEncoder(t, f.id, f.fr)
			dst := make([]byte, 0, 64)
			for i := range seq {
				if i%3 == 0 {
					dst = dst[:0]
				}
				var ok bool
				if dst, ok, _ = checkSame(t, e, ref, dst, &seq[i]); !ok {
					t.Fatalf("at record %d of the sequence", i)
				}
			}
		})
	}
}

// fieldCopies copy one nullable field of Output each, for the tests that flip
// fields one at a time.
var fieldCopies = []func(dst, src *Output){
	func(d, s *Output) { d.ContentID = s.ContentID },
	func(d, s *Output) { d.UserID = s.UserID },
	func(d, s *Output) { d.EventType = s.EventType },
	func(d, s *Output) { d.DurationMs = s.DurationMs },
	func(d, s *Output) { d.Device = s.Device },
	func(d, s *Output) { d.ContentType = s.ContentType },
	func(d, s *Output) { d.LengthSeconds = s.LengthSeconds },
	func(d, s *Output) { d.EngagementSeconds = s.EngagementSeconds },
	func(d, s *Output) { d.EngagementPct = s.EngagementPct },
}

// nullGarbage is a record of NULLs whose values must be neither checked nor
// written.
var nullGarbage = Output{
	EventID:           -77,
	ContentID:         sql.NullString{String: "\xff"},
	UserID:            sql.NullString{String: "user"},
	EventType:         sql.NullString{String: "ok\xfe"},
	EventTs:           mustTime("2024-02-29T23:59:59.999999999Z"),
	DurationMs:        sql.NullInt32{Int32: -1},
	Device:            sql.NullString{String: "\xc0\xaf"},
	ContentType:       sql.NullString{String: strings.Repeat("x", 300)},
	LengthSeconds:     sql.NullInt32{Int32: math.MaxInt32},
	EngagementSeconds: sql.NullFloat64{Float64: math.NaN()},
	EngagementPct:     sql.NullFloat64{Float64: 1},
}

// TestEncodeConcurrentMatchesReference has many goroutines append random
// records with one Encoder, each to its own dst; run it with -race.
func TestEncodeConcurrentMatchesReference(t *testing.T) {
	e := newEncoder(t, 5, FramingConfluent)
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
}

// BenchmarkEncodeGoavro is the reference encoder on BenchmarkEncode's record,
// to compare with in one run. It builds a fresh native and, to keep its
// output apart from the Encoder's in the differential tests, a fresh buffer
// each time.
func BenchmarkEncodeGoavro(b *testing.B) {
	o := outputCases[1].out
	for _, f := range diffFramings {
		b.Run(f.name, func(b *testing.B) {
			ref := newRefEncoder(b, f.id, f.fr)
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ref.Append(buf[:0], &o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
