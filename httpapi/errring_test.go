package httpapi

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/zap"
)

func TestErrRing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		logged int
		want   []string // messages, newest first
	}{
		{"empty", 3, 0, []string{}},
		{"not full", 3, 2, []string{"e1", "e0"}},
		{"exactly full", 3, 3, []string{"e2", "e1", "e0"}},
		{"wrapped: only the newest kept", 3, 7, []string{"e6", "e5", "e4"}},
		{"size below 1 keeps one", 0, 2, []string{"e1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewErrRing(tc.size)
			log := zap.New(r.Core())
			for i := range tc.logged {
				log.Info("info is not kept")
				log.Error("e" + strconv.Itoa(i))
			}
			got := []string{}
			for _, e := range r.Entries() {
				got = append(got, e.Message)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestErrRingClipsLongText: a huge message or field is cut to a bounded
// size on a character boundary, so the ring's memory stays bounded.
func TestErrRingClipsLongText(t *testing.T) {
	r := NewErrRing(2)
	long := strings.Repeat("ب", 2000) // 2 bytes each
	zap.New(r.Core()).Error(long, zap.String("payload", long))
	e := r.Entries()[0]
	for name, s := range map[string]string{"message": e.Message, "field": e.Fields["payload"].(string)} {
		if len(s) > maxFieldText+len("…") || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") {
			t.Errorf("%s: got %d bytes (valid UTF-8 %v), want at most %d, valid, ending with …", name, len(s), utf8.ValidString(s), maxFieldText+3)
		}
	}
}

// TestNilErrRing: a handler without a ring answers an empty list.
func TestNilErrRing(t *testing.T) {
	var r *ErrRing
	if got := r.Entries(); got == nil || len(got) != 0 {
		t.Errorf("got %v, want an empty list", got)
	}
}
