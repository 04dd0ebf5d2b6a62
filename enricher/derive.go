package enricher

import "database/sql"

// EngagementSeconds is duration_ms / 1000 as the double nearest the exact
// decimal. It is NULL when durationMs is NULL or negative: a negative duration
// is a broken measurement and must not subtract from sums downstream.
//
// float64(d)/1000 is that nearest double: |d| < 2^31 < 2^53, so float64(d)
// and 1000 are exact, and IEEE 754 division rounds the exact real quotient
// d/1000 (which is the decimal value itself) correctly. Parsing the decimal
// text with strconv.ParseFloat gives the same bits; the tests check both.
func EngagementSeconds(durationMs sql.NullInt32) sql.NullFloat64 {
	if !durationMs.Valid || durationMs.Int32 < 0 {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: float64(durationMs.Int32) / 1000, Valid: true}
}

// EngagementPct is ROUND(duration_ms / 1000 / length_seconds, 2), a fraction,
// rounded half away from zero on the exact decimal value as Postgres'
// round(numeric, 2) does, and returned as the double nearest that result.
// It is NULL when either input is NULL, when lengthSeconds is 0 and when
// durationMs is negative. A negative lengthSeconds is not the contract's to
// forbid, so it yields a negative fraction, rounded symmetrically.
//
// Binary floating point cannot do this: 1.005 s of 1 s is 1.005 exactly and
// rounds to 1.01, but 1.005 as a double is 1.00499999999999989... and rounds
// to 1.00. So the rounding happens on integers: in hundredths,
//
//	pct*100 = (d/1000) / L * 100 = d / (10*L)
//
// and q = round_half_away(d / (10*L)) with int64 numerator and denominator.
// 10*|L| <= 10*2^31 and 2*d + 10*|L| < 2^36, far inside int64, so nothing
// overflows even for L = math.MinInt32.
//
// float64(q)/100 is then the double nearest the decimal q/100: |q| <= 2^31/10
// < 2^53 so float64(q) is exact, 100 is exact, and IEEE 754 division is
// correctly rounded. That is the same double strconv.ParseFloat would return
// for the decimal text, which the tests check.
//
// The result equals Postgres' even though Postgres rounds its numeric
// quotient to 16+ significant digits before round(): a non-half quotient sits
// at least 1/(10*|L|) hundredths from the nearest half, far more than that
// intermediate rounding can move it.
func EngagementPct(durationMs sql.NullInt32, lengthSeconds sql.NullInt32) sql.NullFloat64 {
	if !durationMs.Valid || !lengthSeconds.Valid || lengthSeconds.Int32 == 0 || durationMs.Int32 < 0 {
		return sql.NullFloat64{}
	}
	num := int64(durationMs.Int32)
	den := 10 * int64(lengthSeconds.Int32)
	neg := den < 0
	if neg {
		den = -den
	}
	// floor((2n + d) / 2d) = floor(n/d + 1/2): halves go up, i.e. away from
	// zero because n >= 0 here; the sign is applied afterwards.
	q := (2*num + den) / (2 * den)
	if neg {
		q = -q
	}
	return sql.NullFloat64{Float64: float64(q) / 100, Valid: true}
}
