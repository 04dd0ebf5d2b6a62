package enricher

import (
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
)

func valid(v int32) sql.NullInt32 { return sql.NullInt32{Int32: v, Valid: true} }

var null32 = sql.NullInt32{}

// refSeconds and refPct are the reference: exact rationals from math/big,
// rounded by big.Rat.FloatString (halves away from zero) and turned into the
// nearest double by strconv.ParseFloat. They share no arithmetic with
// derive.go. The string is "NULL" for NULL.
func refSeconds(d sql.NullInt32) string {
	if !d.Valid || d.Int32 < 0 {
		return "NULL"
	}
	return big.NewRat(int64(d.Int32), 1000).FloatString(3)
}

func refPct(d, l sql.NullInt32) string {
	if !d.Valid || !l.Valid || l.Int32 == 0 || d.Int32 < 0 {
		return "NULL"
	}
	s := big.NewRat(int64(d.Int32), 1000*int64(l.Int32)).FloatString(2)
	if s == "-0.00" { // Postgres numeric has no negative zero
		s = "0.00"
	}
	return s
}

// checkDerived compares got against the decimal text want ("NULL" or a
// number) bit for bit, so a result one ulp off, or a negative zero, fails.
func checkDerived(t testing.TB, what string, got sql.NullFloat64, want string) {
	t.Helper()
	if want == "NULL" {
		if got.Valid {
			t.Errorf("%s: got %v, want NULL", what, got.Float64)
		}
		return
	}
	w, err := strconv.ParseFloat(want, 64)
	if err != nil {
		t.Fatalf("%s: bad want %q: %v", what, want, err)
	}
	switch {
	case !got.Valid:
		t.Errorf("%s: got NULL, want %s", what, want)
	case math.Float64bits(got.Float64) != math.Float64bits(w):
		t.Errorf("%s: got %v (%#x), want %s (%#x)", what, got.Float64, math.Float64bits(got.Float64), want, math.Float64bits(w))
	}
}

// naivePct is what float64 arithmetic gives; the tests show where it is wrong.
func naivePct(d, l int32) float64 {
	return math.Round(float64(d)/1000/float64(l)*100) / 100
}

func TestDerive(t *testing.T) {
	tests := []struct {
		name        string
		d, l        sql.NullInt32
		wantSeconds string
		wantPct     string
		naiveWrong  bool // float64 arithmetic rounds this case the wrong way
	}{
		{"contract example 12.34s of 1200s", valid(12340), valid(1200), "12.34", "0.01", false},
		{"zero duration", valid(0), valid(60), "0", "0.00", false},
		{"whole content", valid(60000), valid(60), "60", "1.00", false},
		{"twice the content", valid(7200000), valid(3600), "7200", "2.00", false},

		{"half at .005 rounds up", valid(5), valid(1), "0.005", "0.01", false},
		{"below half at .004 rounds down", valid(4), valid(1), "0.004", "0.00", false},
		{"half at .015 rounds up", valid(15), valid(1), "0.015", "0.02", false},
		{"half at .025 rounds up not to even", valid(25), valid(1), "0.025", "0.03", false},
		{"half 15ms of 3s", valid(15), valid(3), "0.015", "0.01", false},
		{"just below half 34ms of 7s", valid(34), valid(7), "0.034", "0.00", false},
		{"half 35ms of 7s", valid(35), valid(7), "0.035", "0.01", false},
		{"4.999 rounds to 5.00", valid(4999), valid(1), "4.999", "5.00", false},

		{"1.005 of 1s float rounds down", valid(1005), valid(1), "1.005", "1.01", true},
		{"0.285 of 1s float rounds down", valid(285), valid(1), "0.285", "0.29", true},
		{"0.145 of 1s float rounds down", valid(145), valid(1), "0.145", "0.15", true},
		{"2.675 of 1s float happens to be right", valid(2675), valid(1), "2.675", "2.68", false},
		{"105ms of 3s float rounds down", valid(105), valid(3), "0.105", "0.04", true},
		{"8.1s of 60s float rounds down", valid(8100), valid(60), "8.1", "0.14", true},
		{"174s of 1200s float rounds down", valid(174000), valid(1200), "174", "0.15", true},
		{"522s of 3600s float rounds down", valid(522000), valid(3600), "522", "0.15", true},

		{"NULL duration", null32, valid(100), "NULL", "NULL", false},
		{"NULL length", valid(1000), null32, "1", "NULL", false},
		{"both NULL", null32, null32, "NULL", "NULL", false},
		{"length 0", valid(1000), valid(0), "1", "NULL", false},
		{"negative duration", valid(-1), valid(100), "NULL", "NULL", false},
		{"MinInt32 duration", valid(math.MinInt32), valid(1), "NULL", "NULL", false},

		{"negative length half", valid(5), valid(-1), "0.005", "-0.01", false},
		{"negative length below half is zero not -0", valid(4), valid(-1), "0.004", "0.00", false},
		{"negative length contract example", valid(12340), valid(-1200), "12.34", "-0.01", false},
		{"negative length 1.005", valid(1005), valid(-1), "1.005", "-1.01", true},

		{"MaxInt32 duration of 1s", valid(math.MaxInt32), valid(1), "2147483.647", "2147483.65", false},
		{"MaxInt32 duration of -1s", valid(math.MaxInt32), valid(-1), "2147483.647", "-2147483.65", false},
		{"MaxInt32 of MaxInt32", valid(math.MaxInt32), valid(math.MaxInt32), "2147483.647", "0.00", false},
		{"MaxInt32 of MinInt32", valid(math.MaxInt32), valid(math.MinInt32), "2147483.647", "0.00", false},
		{"1ms of MaxInt32", valid(1), valid(math.MaxInt32), "0.001", "0.00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDerived(t, "engagement_seconds", EngagementSeconds(tt.d), tt.wantSeconds)
			checkDerived(t, "engagement_pct", EngagementPct(tt.d, tt.l), tt.wantPct)
			// The table is checked against the reference too, so a typo in a
			// want cannot hide a bug.
			checkDerived(t, "reference seconds", EngagementSeconds(tt.d), refSeconds(tt.d))
			checkDerived(t, "reference pct", EngagementPct(tt.d, tt.l), refPct(tt.d, tt.l))
			if tt.naiveWrong {
				want, _ := strconv.ParseFloat(tt.wantPct, 64)
				if naive := naivePct(tt.d.Int32, tt.l.Int32); naive == want {
					t.Errorf("naive float64 gives %v too; the case does not show the hazard", naive)
				}
			}
		})
	}
}

// randomInput draws from mixed ranges: realistic durations and lengths, the
// whole int32 range, and neighbourhoods of exact halves, where rounding bugs
// live. About one input in twenty is NULL.
func randomInput(r *rand.Rand) (d, l sql.NullInt32) {
	pick := func(small int32) sql.NullInt32 {
		if r.IntN(20) == 0 {
			return null32
		}
		switch r.IntN(4) {
		case 0:
			return valid(int32(r.Uint32()))
		case 1:
			return valid(r.Int32N(2*small+1) - small)
		default:
			return valid(r.Int32N(small + 1))
		}
	}
	d, l = pick(10_000_000), pick(7200)
	if r.IntN(4) == 0 && l.Valid && l.Int32 != 0 {
		// d = 5*L*(2k+1) + {-1,0,1} puts d/(10L) at or next to k+1/2.
		k := r.Int64N(100)
		x := 5*int64(l.Int32)*(2*k+1) + r.Int64N(3) - 1
		if x < 0 {
			x = -x
		}
		if x <= math.MaxInt32 {
			d = valid(int32(x))
		}
	}
	return d, l
}

func TestDeriveMatchesBigRat(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	r := rand.New(rand.NewPCG(20250101, 42))
	naiveWrong := 0
	for i := 0; i < n; i++ {
		d, l := randomInput(r)
		what := fmt.Sprintf("d=%v l=%v", d, l)
		checkDerived(t, what+" seconds", EngagementSeconds(d), refSeconds(d))
		want := refPct(d, l)
		got := EngagementPct(d, l)
		checkDerived(t, what+" pct", got, want)
		if got.Valid && got.Float64 == 0 && math.Signbit(got.Float64) {
			t.Errorf("%s: got negative zero", what)
		}
		if want != "NULL" {
			w, _ := strconv.ParseFloat(want, 64)
			if naivePct(d.Int32, l.Int32) != w {
				naiveWrong++
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	// Not an assertion on our code: it shows the reference is not trivially
	// agreeing with float64 arithmetic on the inputs drawn.
	t.Logf("naive float64 rounding disagreed with the exact result on %d of %d inputs", naiveWrong, n)
	if naiveWrong == 0 {
		t.Errorf("no input where float64 arithmetic rounds differently: the generator misses the halves")
	}
}

// TestEngagementSecondsIsNearestDouble backs the claim in EngagementSeconds:
// float64(d)/1000 is the double nearest the exact decimal, for every small
// duration and a spread of large ones.
func TestEngagementSecondsIsNearestDouble(t *testing.T) {
	check := func(d int32) {
		got := EngagementSeconds(valid(d)).Float64
		want, exact := big.NewRat(int64(d), 1000).Float64()
		if got != want {
			t.Fatalf("d=%d: got %v, want %v (big.Rat, exact=%v)", d, got, want, exact)
		}
	}
	for d := int32(0); d <= 1_000_000; d++ {
		check(d)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 100_000; i++ {
		check(r.Int32())
	}
	check(math.MaxInt32)
}

// TestEngagementPctIsNearestDouble backs the claim that float64(q)/100 is the
// double nearest q/100 for every q EngagementPct can produce.
func TestEngagementPctIsNearestDouble(t *testing.T) {
	check := func(q int64) {
		got := float64(q) / 100
		want, _ := big.NewRat(q, 100).Float64()
		if got != want {
			t.Fatalf("q=%d: got %v, want %v", q, got, want)
		}
	}
	for q := int64(-1_000_000); q <= 1_000_000; q++ {
		check(q)
	}
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 100_000; i++ {
		check(r.Int64N(2*214748365+1) - 214748365)
	}
}

func FuzzDerive(f *testing.F) {
	f.Add(int32(12340), int32(1200), true, true)
	f.Add(int32(5), int32(1), true, true)
	f.Add(int32(1005), int32(-1), true, true)
	f.Add(int32(math.MaxInt32), int32(math.MinInt32), true, true)
	f.Add(int32(-1), int32(0), true, false)
	f.Fuzz(func(t *testing.T, d, l int32, dValid, lValid bool) {
		dn := sql.NullInt32{Int32: d, Valid: dValid}
		ln := sql.NullInt32{Int32: l, Valid: lValid}
		checkDerived(t, "engagement_seconds", EngagementSeconds(dn), refSeconds(dn))
		got := EngagementPct(dn, ln)
		checkDerived(t, "engagement_pct", got, refPct(dn, ln))
		if got.Valid && got.Float64 == 0 && math.Signbit(got.Float64) {
			t.Errorf("got negative zero")
		}
	})
}
