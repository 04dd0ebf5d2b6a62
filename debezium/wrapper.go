package debezium

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// JsonConverter with schemas.enable=true (Kafka Connect's default) puts a
// schema of several kB before every payload of a few hundred bytes, and
// encoding/json scans input twice (validation, then decoding). Only the
// payload carries meaning, so for the exact shape JsonConverter writes,
// {"schema":{…},"payload":…}, the schema is skipped by a structural scan
// (strings and nesting only) and just the payload is decoded, and so fully
// validated. Any other shape goes through the general path.

// payloadOf returns the payload of a JsonConverter wrapper in the shape
// above, or nil.
func payloadOf(b []byte) []byte {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	i, ok := expectKey(b, i+1, `"schema"`)
	if !ok || i >= len(b) || b[i] != '{' {
		return nil
	}
	if i, ok = skipContainer(b, i); !ok {
		return nil
	}
	if i = skipSpace(b, i); i >= len(b) || b[i] != ',' {
		return nil
	}
	if i, ok = expectKey(b, i+1, `"payload"`); !ok {
		return nil
	}
	if i >= len(b) || b[i] != '{' {
		return nil // a null or odd payload: the general path explains it
	}
	end, ok := skipContainer(b, i)
	if !ok {
		return nil
	}
	if rest := skipSpace(b, end); rest >= len(b) || b[rest] != '}' || skipSpace(b, rest+1) != len(b) {
		return nil // more fields follow; the general path ignores them
	}
	return b[i:end]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// expectKey matches `key :` at b[i:] and returns the index of the value.
func expectKey(b []byte, i int, key string) (int, bool) {
	i = skipSpace(b, i)
	if !bytes.HasPrefix(b[i:], []byte(key)) {
		return 0, false
	}
	i = skipSpace(b, i+len(key))
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	return skipSpace(b, i+1), true
}

// skipContainer returns the index just past the object or array at b[i].
func skipContainer(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			// Eight bytes at a time up to a quote or a backslash (strings
			// in a schema are short: IndexByte's call cost more); an
			// escape's second byte is skipped with it.
			for i++; ; {
				if i+8 <= len(b) {
					x := binary.LittleEndian.Uint64(b[i:])
					m := quoteOrBackslash8(x)
					if m == 0 {
						i += 8
						continue
					}
					i += bits.TrailingZeros64(m) / 8
				} else if i >= len(b) {
					return 0, false
				}
				if b[i] == '"' {
					break
				}
				if b[i] == '\\' {
					i++
				}
				i++
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
		i++
	}
	return 0, false
}

// quoteOrBackslash8 marks, in bit 7 of its byte, the first of the eight
// bytes in x (little-endian) that is a quote or a backslash, and maybe some
// later ones: in (v-ones) &^ v, bit 7 of a byte is set when it is zero, and
// otherwise only by a borrow, which runs upwards from a zero byte.
func quoteOrBackslash8(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ ('"' * ones)
	backslash := x ^ ('\\' * ones)
	return ((quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}
