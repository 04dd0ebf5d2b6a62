package debezium

import (
	"time"

	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Allocation-free parsers for JSON literals and timestamps, used by the field
// unmarshalers on the hot path.

// parseInt parses a JSON integer literal; fractions and exponents are
// rejected because Debezium never writes integer columns that way.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return -int64(n), true // -1<<63 wraps to itself, which is right
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

// plainPrefix returns how many bytes of the string literal's content s need
// no unescaping or UTF-8 repair.
func plainPrefix(s []byte) int {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' || c == '"' || c < ' ' {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return i
}

// unquoteString is unquote for a string result, with one allocation in the
// common case of nothing to unescape.
func unquoteString(b []byte) string {
	if s := b[1 : len(b)-1]; plainPrefix(s) == len(s) {
		return string(s)
	}
	return string(unquote(b))
}

// unquote decodes the JSON string literal b (quotes included, already
// validated by encoding/json) with encoding/json's semantics: invalid UTF-8
// and lone surrogates become U+FFFD.
func unquote(b []byte) []byte {
	s := b[1 : len(b)-1]
	i := plainPrefix(s)
	if i == len(s) {
		return append([]byte(nil), s...)
	}
	out := make([]byte, i, len(s)+2*utf8.UTFMax)
	copy(out, s[:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case '"', '\\', '/':
				out = append(out, s[i])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(s[i+1:])
				if !ok {
					return out // cannot happen after validation
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(-1), false
					if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
						r2, ok = hex4(s[i+3:])
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			}
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			i += size
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// parseRFC3339 parses YYYY-MM-DD[Tt ]hh:mm:ss[.fraction](Z|z|±hh:mm) without
// allocating (time.Parse allocates on every call here) and returns UTC
// rounded to microseconds, the precision of timestamptz. It computes the
// instant directly rather than through time.Date, which cost as much as the
// rest of an event's fields together; TestParseRFC3339MatchesTimeDate holds
// it to what time.Date gives.
func parseRFC3339(s []byte) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return time.Time{}, false
	}
	year := num2(s[0], s[1])*100 + num2(s[2], s[3])
	month, day := num2(s[5], s[6]), num2(s[8], s[9])
	hour, minute, sec := num2(s[11], s[12]), num2(s[14], s[15]), num2(s[17], s[18])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	rest, nsec := s[19:], 0
	if rest[0] == '.' {
		i := 1
		for scale := 100_000_000; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
		}
		if i == 1 || i > 10 {
			return time.Time{}, false
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, om := num2(rest[1], rest[2]), num2(rest[4], rest[5])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	// Round half up to microseconds, as time.Time.Round does.
	if r := nsec % 1000; r >= 500 {
		nsec += 1000 - r
	} else {
		nsec -= r
	}
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// num2 is the value of two decimal digits, or a negative number large
// enough to keep year (100*num2 + num2) negative too.
func num2(a, b byte) int {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return -1 << 20
	}
	return int(a-'0')*10 + int(b-'0')
}

// daysIn is the length of a month, 1 to 12, in the proleptic Gregorian
// calendar that time.Date uses.
func daysIn(month, year int) int {
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
}

// daysSinceEpoch counts days from 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil: years start in March, so the leap day
// ends a year).
func daysSinceEpoch(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := year - era*400
	doy := (153*((month+9)%12)+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

// hexVal maps a hex digit to its value and every other byte to 0xff.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range []byte("0123456789abcdef") {
		t[c] = byte(i)
	}
	for i, c := range []byte("ABCDEF") {
		t[c] = byte(10 + i)
	}
	return t
}()

// parseUUID is uuid.ParseBytes, with the canonical 36-byte form (which
// ParseBytes accepts exactly when this does) done here several times faster.
func parseUUID(s []byte) (u uuid.UUID, err error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return uuid.ParseBytes(s)
	}
	// Unrolled over constant indexes: a loop over a table of offsets
	// cost a bounds check per byte.
	s = s[:36]
	var bad byte
	x := func(i int) byte {
		hi, lo := hexVal[s[i]], hexVal[s[i+1]]
		bad |= hi | lo
		return hi<<4 | lo
	}
	u = uuid.UUID{
		x(0), x(2), x(4), x(6), x(9), x(11), x(14), x(16),
		x(19), x(21), x(24), x(26), x(28), x(30), x(32), x(34),
	}
	if bad&0xf0 != 0 { // a byte that is not a hex digit
		return uuid.ParseBytes(s) // for its error
	}
	return u, nil
}

// uuidString is u.String(), which spends more time in hex.Encode's five
// calls than this takes in all.
func uuidString(u uuid.UUID) string {
	const digits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = digits[c>>4], digits[c&0xf]
		j += 2
	}
	return string(b[:])
}
