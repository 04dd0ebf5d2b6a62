package debezium

import (
	"time"
	"unicode/utf16"
	"unicode/utf8"
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
// rounded to microseconds, the precision of timestamptz.
func parseRFC3339(s []byte) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
		minute < 0 || minute > 59 || sec < 0 || sec > 59 {
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
		oh, om := num(rest[1:3]), num(rest[4:6])
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
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // e.g. February 30 was normalised into March
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second).Round(time.Microsecond), true
}
