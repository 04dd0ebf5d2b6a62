package debezium

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`""`, `"abc"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u0645"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`,
		`"\ud83d\u0041"`, "\"\xff\xfe\"", "\"caf\xc3\xa9\"", `"فنجان"`, `"a\u0000b"`, "\"\xed\xa0\x80\"",
	} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := string(unquote([]byte(s))); got != want {
			t.Errorf("unquote(%s) = %q, want %q", s, got, want)
		}
	}
}

func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud83d\ude00"`, `"\u0041\n"`, "\"\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want string
		// UnmarshalJSON gets exactly one literal, without surrounding space.
		if json.Unmarshal([]byte(s), &want) != nil || len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
			return
		}
		if got := string(unquote([]byte(s))); got != want {
			t.Errorf("unquote(%q) = %q, want %q", s, got, want)
		}
	})
}

func TestParseRFC3339(t *testing.T) {
	for _, s := range []string{
		"2025-03-10T09:20:00.000000Z", "1970-01-01T00:00:00Z", "2025-01-01T12:30:00.1Z",
		"2025-01-01T12:30:00.123456789Z", "2025-03-10T12:20:00+03:00", "2024-02-29T23:59:59.9999995-05:30",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseRFC3339([]byte(s))
		if !ok || !got.Equal(want.Round(time.Microsecond)) || got.Location() != time.UTC {
			t.Errorf("%s: got %v %v, want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{
		"", "2025-03-10", "2025-03-10T09:20:00", "2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z",
		"2025-03-10T24:00:00Z", "2025-03-10T09:20:00.Z", "2025-03-10T09:20:00.0000000000Z",
		"2025-03-10T09:20:00+0300", "2025-03-10T09:20:00Zjunk", "2025-03-1aT09:20:00Z", "2025-03-10T09:20:60Z",
	} {
		if got, ok := parseRFC3339([]byte(s)); ok {
			t.Errorf("%q accepted as %v", s, got)
		}
	}
}

func TestParseInt(t *testing.T) {
	for _, s := range []string{"0", "-0", "42", "-42", "9223372036854775807", "-9223372036854775808"} {
		want, _ := strconv.ParseInt(s, 10, 64)
		if got, ok := parseInt([]byte(s)); !ok || got != want {
			t.Errorf("%s: %d %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "1.0", "1e3", "9223372036854775808", "-9223372036854775809", "99999999999999999999", "+1"} {
		if got, ok := parseInt([]byte(s)); ok {
			t.Errorf("%q accepted as %d", s, got)
		}
	}
}

func TestPayloadOf(t *testing.T) {
	for in, want := range map[string]string{
		`{"schema":{"a":"}{\"]"},"payload":{"id":1}}`:                        `{"id":1}`,
		" {\n\"schema\" : {\"f\":[1,{}]} ,\t\"payload\" : {\"x\":\"}\"} }\n": `{"x":"}"}`,
		`{"schema":{},"payload":null}`:                                       "",
		`{"schema":null,"payload":{}}`:                                       "",
		`{"payload":{},"schema":{}}`:                                         "",
		`{"schema":{},"payload":{},"extra":1}`:                               "",
		`{"schema":{},"payload":{}`:                                          "",
		`{"schema":{"a":"\"},"payload":{}}`:                                  "",
		`{"schema":{},"payload":{"a":1}}}`:                                   "",
	} {
		if got := string(payloadOf([]byte(in))); got != want {
			t.Errorf("payloadOf(%s) = %q, want %q", in, got, want)
		}
	}
}

// skipContainerRef is skipContainer as it was before it scanned strings
// eight bytes at a time: the reference it must agree with.
func skipContainerRef(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
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

// sameSkip fails when skipContainer and skipContainerRef disagree on any
// container start in b.
func sameSkip(t testing.TB, b []byte) {
	t.Helper()
	for i, c := range b {
		if c != '{' && c != '[' {
			continue
		}
		gotEnd, gotOK := skipContainer(b, i)
		wantEnd, wantOK := skipContainerRef(b, i)
		if gotEnd != wantEnd || gotOK != wantOK {
			t.Fatalf("skipContainer(%q, %d) = %d, %t; want %d, %t", b, i, gotEnd, gotOK, wantEnd, wantOK)
		}
	}
}

func TestSkipContainerAgrees(t *testing.T) {
	for _, s := range []string{
		`{"a":"}{\"]"}`, `{"a":"\\"}`, `{"a":"\\\"}"}`, `["\\\\",{"b":"x\\"}]`, `{"a":"abcdefghijklmnop\"qrstuvwx"}`,
		`{"a":"\`, `{"a":"abcdefgh\`, `{"a":"abcdefg\"`, `{"é":"فنجان"}`, `[[[]]]]`, `{"a":"\u0022"}`,
	} {
		for _, m := range mutations([]byte(s)) {
			sameSkip(t, m)
		}
	}
	for _, seed := range contentSeeds(t) {
		sameSkip(t, seed[1])
	}
}
