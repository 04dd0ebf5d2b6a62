package dlq

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // in the output
		not  string // not in it
	}{
		{"complete", nil, "3/3", ""},
		// The bar stops where it was (as throttled): never drawn complete.
		{"stopped by an error", errors.New("broker gone"), "/3", "3/3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			b := NewBar(&buf)
			b.Start(3)
			b.Advance(2)
			if tc.err == nil {
				b.Advance(3)
			}
			b.Finish(tc.err)
			if out := buf.String(); !strings.Contains(out, "dlq replay") || !strings.Contains(out, tc.want) || (tc.not != "" && strings.Contains(out, tc.not)) {
				t.Fatalf("got %q, want %q and not %q", out, tc.want, tc.not)
			}
		})
	}
}
