package schemas

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"
)

func nan(bits uint64) float64 { return math.Float64frombits(bits) }

// edgeCases are the values where a hand-written Avro writer goes wrong if it
// goes wrong anywhere: varint lengths, zig-zag extremes, double bits that
// arithmetic would canonicalise, instants that truncation would round up.
// They seed FuzzEncode too.
var edgeCases = []struct {
	name    string
	out     Output
	wantErr string // empty when the record encodes
}{
	{name: "nulls everywhere, garbage under them", out: nullGarbage},
	{name: "all set", out: outputCases[1].out},
	{name: "min int64 id", out: Output{EventID: math.MinInt64}},
	{name: "max int64 id", out: Output{EventID: math.MaxInt64}},
	{name: "int32 extremes", out: Output{DurationMs: valid(math.MinInt32), LengthSeconds: valid(math.MaxInt32)}},
	{name: "int32 varint boundaries", out: Output{EventID: -64, DurationMs: valid(-65), LengthSeconds: valid(64)}},
	{name: "zero and minus one", out: Output{EventID: -1, DurationMs: valid(0), LengthSeconds: valid(-1)}},
	{name: "NaN", out: Output{EngagementSeconds: dbl(math.NaN()), EngagementPct: dbl(nan(0x7ff8_0000_0000_0000))}},
	{name: "NaN payloads", out: Output{EngagementSeconds: dbl(nan(0x7ff8_0000_dead_beef)), EngagementPct: dbl(nan(0x7ff0_0000_0000_0001))}},
	{name: "negative NaN", out: Output{EngagementSeconds: dbl(nan(0xfff8_0000_0000_0000)), EngagementPct: dbl(nan(0xffff_ffff_ffff_ffff))}},
	{name: "infinities", out: Output{EngagementSeconds: dbl(math.Inf(1)), EngagementPct: dbl(math.Inf(-1))}},
	{name: "zeros", out: Output{EngagementSeconds: dbl(math.Copysign(0, -1)), EngagementPct: dbl(0)}},
	{name: "max doubles", out: Output{EngagementSeconds: dbl(math.MaxFloat64), EngagementPct: dbl(-math.MaxFloat64)}},
	{name: "min doubles", out: Output{EngagementSeconds: dbl(math.SmallestNonzeroFloat64), EngagementPct: dbl(-math.SmallestNonzeroFloat64)}},
	{name: "empty strings", out: Output{ContentID: str(""), UserID: str(""), EventType: str(""), Device: str(""), ContentType: str("")}},
	{name: "non-ASCII", out: Output{ContentID: str("مستخدم"), UserID: str("📱🎧"), EventType: str("\U0010FFFF"), Device: str("\x00\x7f\u0080\u07ff\u0800\uffff"), ContentType: str("\uFFFD")}},
	{name: "63 and 64 byte strings", out: Output{ContentID: str(strings.Repeat("a", 63)), UserID: str(strings.Repeat("b", 64))}},
	{name: "100 KB strings", out: Output{ContentID: str(strings.Repeat("x", 100_000)), Device: str(strings.Repeat("ع", 50_000))}},
	{name: "sub-millisecond before 1970", out: Output{EventTs: mustTime("1969-12-31T23:59:59.9995Z")}},
	{name: "a nanosecond before 1970", out: Output{EventTs: time.Unix(0, -1)}},
	{name: "the epoch", out: Output{EventTs: time.Unix(0, 0)}},
	{name: "zero time (year 1)", out: Output{}},
	{name: "year 9999", out: Output{EventTs: mustTime("9999-12-31T23:59:59.999999999Z")}},
	{name: "time in a zone", out: Output{EventTs: mustTime("2025-03-01T00:00:00.0019+03:00")}},
	{name: "bad content_id", out: Output{EventID: 3, ContentID: str("\xff")}, wantErr: "encode event 3: content_id is not valid UTF-8: \"\\xff\""},
	{name: "bad user_id", out: Output{UserID: str("ok\xfe")}, wantErr: "user_id is not valid UTF-8"},
	{name: "bad event_type", out: Output{EventType: str("\xed\xa0\x80")}, wantErr: "event_type is not valid UTF-8"},
	{name: "bad device", out: Output{Device: str("\xc0\xaf")}, wantErr: "device is not valid UTF-8"},
	{name: "bad content_type", out: Output{ContentType: str("abc\xe2\x82")}, wantErr: "content_type is not valid UTF-8"},
	{name: "two bad, first reported", out: Output{UserID: str("\xff"), EventType: str("\xfe"), Device: str("\xff")}, wantErr: "user_id is not valid UTF-8"},
	{name: "bad but NULL", out: Output{ContentID: sql.NullString{String: "\xff"}, ContentType: str("ok")}},
}

// TestEncodeEdgeCases compares each edge case with the reference, in both
// framings, on a fresh dst and after a prefix.
func TestEncodeEdgeCases(t *testing.T) {
	for _, f := range diffFramings {
		e := newEncoder(t, f.id, f.fr)
		ref := newRefEncoder(t, f.id, f.fr)
		for _, tt := range edgeCases {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				dst := append(make([]byte, 0, 64), "prefix"...)
				for _, d := range [][]byte{nil, dst} {
					got, ok, err := checkSame(t, e, ref, d, &tt.out)
					if !ok {
						return
					}
					switch {
					case tt.wantErr == "" && err != nil:
						t.Fatalf("got error %v", err)
					case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
						t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
					case err == nil && !bytes.HasPrefix(got, d):
						t.Fatalf("got % x, want it to start with % x", got[:len(d)], d)
					}
				}
			})
		}
	}
}

// TestEncodeDoubleBits checks, apart from goavro, that a double is written
// as its bits: a writer that went through arithmetic could quiet a NaN or
// lose its payload or sign, and the reference would not care if goavro did
// the same.
func TestEncodeDoubleBits(t *testing.T) {
	e := newEncoder(t, 1, FramingConfluent)
	for _, bits := range []uint64{0x7ff8_0000_dead_beef, 0x7ff0_0000_0000_0001, 0xfff8_0000_0000_0000, 1 << 63} {
		o := Output{EngagementPct: dbl(math.Float64frombits(bits))}
		b, err := e.Append(nil, &o)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.LittleEndian.Uint64(b[len(b)-8:]); got != bits || b[len(b)-9] != 2 {
			t.Errorf("bits %#x: got union byte %#x and bits %#x", bits, b[len(b)-9], got)
		}
	}
}

// addSeed adds o to FuzzEncode's corpus, as its arguments.
func addSeed(f *testing.F, o *Output) {
	var valid uint16
	for i, v := range []bool{o.ContentID.Valid, o.UserID.Valid, o.EventType.Valid, o.Device.Valid, o.ContentType.Valid,
		o.DurationMs.Valid, o.LengthSeconds.Valid, o.EngagementSeconds.Valid, o.EngagementPct.Valid} {
		if v {
			valid |= 1 << i
		}
	}
	f.Add(o.EventID, o.ContentID.String, o.UserID.String, o.EventType.String, o.Device.String, o.ContentType.String,
		valid, o.EventTs.Unix(), int64(o.EventTs.Nanosecond()), o.DurationMs.Int32, o.LengthSeconds.Int32,
		math.Float64bits(o.EngagementSeconds.Float64), math.Float64bits(o.EngagementPct.Float64))
}

// FuzzEncode requires Append to agree with the reference, bytes or error, in
// both framings, for any record: valid bits 0-4 mark the strings set, 5-6 the
// ints, 7-8 the doubles; the instant is seconds and nanoseconds (any, as
// time.Unix normalises them).
func FuzzEncode(f *testing.F) {
	for _, tt := range edgeCases {
		if len(tt.out.ContentID.String)+len(tt.out.Device.String) > 1000 {
			continue // the fuzzer's mutations are slow on large inputs
		}
		addSeed(f, &tt.out)
	}
	for i := range outputCases {
		addSeed(f, &outputCases[i].out)
	}
	type pair struct {
		e   *Encoder
		ref *refEncoder
	}
	var pairs []pair
	for _, fr := range diffFramings {
		pairs = append(pairs, pair{newEncoder(f, fr.id, fr.fr), newRefEncoder(f, fr.id, fr.fr)})
	}
	f.Fuzz(func(t *testing.T, id int64, s0, s1, s2, s3, s4 string, valid uint16, sec, nsec int64, i0, i1 int32, d0, d1 uint64) {
		set := func(bit int) bool { return valid&(1<<bit) != 0 }
		o := Output{
			EventID:           id,
			ContentID:         sql.NullString{String: s0, Valid: set(0)},
			UserID:            sql.NullString{String: s1, Valid: set(1)},
			EventType:         sql.NullString{String: s2, Valid: set(2)},
			Device:            sql.NullString{String: s3, Valid: set(3)},
			ContentType:       sql.NullString{String: s4, Valid: set(4)},
			DurationMs:        sql.NullInt32{Int32: i0, Valid: set(5)},
			LengthSeconds:     sql.NullInt32{Int32: i1, Valid: set(6)},
			EngagementSeconds: sql.NullFloat64{Float64: math.Float64frombits(d0), Valid: set(7)},
			EngagementPct:     sql.NullFloat64{Float64: math.Float64frombits(d1), Valid: set(8)},
			EventTs:           time.Unix(sec, nsec),
		}
		for _, p := range pairs {
			dst := append(make([]byte, 0, 32), 0xAA, 0xBB)
			checkSame(t, p.e, p.ref, dst, &o)
		}
	})
}
