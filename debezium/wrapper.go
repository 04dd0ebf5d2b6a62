package debezium

import "bytes"

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
			// IndexByte is vectorised; a quote preceded by an odd number of
			// backslashes is escaped.
			for i++; ; i++ {
				j := bytes.IndexByte(b[i:], '"')
				if j < 0 {
					return 0, false
				}
				i += j
				k := i
				for k > 0 && b[k-1] == '\\' {
					k--
				}
				if (i-k)%2 == 0 {
					break
				}
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
