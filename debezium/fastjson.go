package debezium

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// A validating JSON scanner for the fast path (fastpath.go). It never decodes
// anything itself: it finds each member's key and the exact bytes of its
// value, which the field types' own UnmarshalJSON methods then read, just as
// encoding/json would hand them over. What it must get exactly right is
// validity: it accepts only text that encoding/json's scanner accepts, so a
// record the fast path takes could never have been a syntax error on the
// general path. Anything it is unsure of (deep nesting) counts as a failure,
// and the caller falls back to encoding/json.

// maxFastDepth bounds recursion. encoding/json allows 10000 levels; deeper
// values here just take the general path.
const maxFastDepth = 64

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

// str scans the string literal at s.b[s.i] (the opening quote) and reports
// whether it is valid and whether it is plain: no escapes and ASCII only, so
// its bytes are its value.
func (s *scanner) str() (ok, plain bool) {
	b, i := s.b, s.i+1
	plain = true
	for {
		// Eight bytes at a time, up to the first that needs a look.
		if i+8 <= len(b) {
			m := special8(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		} else if i >= len(b) {
			return false, false
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return true, plain
		case c < ' ':
			return false, false
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b[i+2:]); !ok {
					return false, false
				}
				i += 6
			default:
				return false, false
			}
		default:
			// Invalid UTF-8 is valid JSON to encoding/json (it decodes to
			// U+FFFD), so bytes >= 0x80 only make the string non-plain.
			if c >= 0x80 {
				plain = false
			}
			i++
		}
	}
}

// special8 marks, in bit 7 of its byte, the first of the eight bytes in x
// (little-endian) that is a quote, a backslash, a control character or not
// ASCII, and maybe some later ones. It is the classic "has a zero byte"
// trick: for v < 0x80, v-k sets bit 7 exactly when v < k, and a borrow only
// ever runs upwards from a byte that is itself marked.
func special8(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ ('"' * ones)
	backslash := x ^ ('\\' * ones)
	return ((quote - ones) | (backslash - ones) | (x - ' '*ones) | x) & highs
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return false
		}
		i = j
	}
	s.i = i
	return true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// value scans any JSON value at s.i and returns its bytes.
func (s *scanner) value(depth int) ([]byte, bool) {
	start := s.i
	if start >= len(s.b) {
		return nil, false
	}
	var ok bool
	switch c := s.b[start]; {
	case c == '"':
		ok, _ = s.str()
	case c == '{' || c == '[':
		ok = s.container(depth + 1)
	case c == 't':
		ok = s.literal("true")
	case c == 'f':
		ok = s.literal("false")
	case c == 'n':
		ok = s.literal("null")
	default:
		ok = s.number()
	}
	return s.b[start:s.i], ok
}

// container scans the object or array at s.i.
func (s *scanner) container(depth int) bool {
	if depth > maxFastDepth {
		return false
	}
	if s.b[s.i] == '[' {
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for {
			s.ws()
			if _, ok := s.value(depth); !ok {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	}
	s.i++
	for first := true; ; first = false {
		_, done, ok := s.member(first)
		if !ok {
			return false
		}
		if done {
			return true
		}
		if _, ok := s.value(depth); !ok {
			return false
		}
	}
}

// member reads the next member of an object whose '{' has been consumed and
// leaves s.i at its value; done means the closing '}' was consumed instead.
// The key is returned only when plain, nil otherwise: encoding/json
// unescapes and case-folds keys (Unicode folding included) before matching
// them, so only a plain key can be matched here as it would be there.
func (s *scanner) member(first bool) (key []byte, done, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, false, false
	}
	if !first {
		switch s.b[s.i] {
		case '}':
			s.i++
			return nil, true, true
		case ',':
			s.i++
			s.ws()
		default:
			return nil, false, false
		}
	} else if s.b[s.i] == '}' {
		s.i++
		return nil, true, true
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	start := s.i
	valid, plain := s.str()
	if !valid {
		return nil, false, false
	}
	if plain {
		key = s.b[start+1 : s.i-1]
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return nil, false, false
	}
	s.i++
	s.ws()
	return key, false, true
}

// validJSON is json.Valid without its per-call scanner setup, which costs
// more than scanning a short JSONB value. Whatever this scanner rejects
// (invalid, or nested too deep for it) is decided by json.Valid itself.
func validJSON(b []byte) bool {
	s := scanner{b: b}
	s.ws()
	if _, ok := s.value(0); !ok {
		return json.Valid(b)
	}
	s.ws()
	return s.i == len(b)
}
