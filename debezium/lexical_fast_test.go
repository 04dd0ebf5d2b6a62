package debezium

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// parseRFC3339Ref is parseRFC3339 as it was, through time.Date; the fast
// version must agree with it on every input.
func parseRFC3339Ref(s []byte) (time.Time, bool) {
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
	if t.Day() != day {
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second).Round(time.Microsecond), true
}

func sameRFC3339(t *testing.T, s string) {
	t.Helper()
	got, gotOK := parseRFC3339([]byte(s))
	want, wantOK := parseRFC3339Ref([]byte(s))
	// DeepEqual, not Equal: the representation (location included) must
	// match too, since events are compared with DeepEqual.
	if gotOK != wantOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseRFC3339(%q) = %v, %t; want %v, %t", s, got, gotOK, want, wantOK)
	}
}

func TestParseRFC3339MatchesTimeDate(t *testing.T) {
	for _, s := range []string{
		"0000-01-01T00:00:00Z", "0000-02-29T00:00:00Z", "0000-03-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59",
		"1969-12-31T23:59:59.9999995Z", "1970-01-01T00:00:00.0000005Z", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
		"2100-02-29T00:00:00Z", "2024-02-29T23:59:59.999999999+00:00", "9999-12-31T23:59:59.999999999Z",
		"99a9-01-01T00:00:00Z", "2025-0a-01T00:00:00Z", "2025-04-31T00:00:00Z", "2025-12-32T00:00:00Z",
		"2025-01-01T12:30:00.000000499Z", "2025-01-01T12:30:00.000000500Z", "2025-01-01 12:30:00z",
		"2025-01-01t12:30:00-00:00", "2025-01-01T12:30:00+24:00", "2025-01-01T12:30:00+05:60", "-025-01-01T00:00:00Z",
	} {
		sameRFC3339(t, s)
	}
	for y := 0; y < 10000; y += 7 {
		for m := 1; m <= 12; m++ {
			for _, d := range []int{1, 28, 29, 30, 31} {
				sameRFC3339(t, time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-")+
					[]string{1: "01", 28: "28", 29: "29", 30: "30", 31: "31"}[d]+"T13:14:15.123456789-07:30")
			}
		}
	}
}

func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2025-01-01T12:30:00Z", "2024-02-29T23:59:59.9999995-05:30", "0000-03-01 00:00:00.1+01:00"} {
		f.Add(s)
	}
	f.Fuzz(sameRFC3339)
}

func FuzzParseUUID(f *testing.F) {
	for _, s := range []string{"c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03", "C41A7E92-3B5D-4F60-8A1C-9D2E7B4F6A03", "{c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := parseUUID([]byte(s))
		want, wantErr := uuid.ParseBytes([]byte(s))
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("parseUUID(%q) = %v, %v; want %v, %v", s, got, gotErr, want, wantErr)
		}
		if uuidString(got) != got.String() {
			t.Fatalf("uuidString(%v) = %s", got, uuidString(got))
		}
	})
}
