package httpapi

import (
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap/zapcore"
)

// ErrorEntry is one Error-level log entry as the console shows it.
type ErrorEntry struct {
	Time    time.Time      `json:"time"`
	Logger  string         `json:"logger,omitempty"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"fields,omitempty"`
}

// ErrRing keeps the last Error-level (and worse) log entries, so the console
// can show what went wrong without anyone reading the logs. It is bounded:
// a flood of errors costs a fixed amount of memory and only the newest are kept.
type ErrRing struct {
	mu   sync.Mutex
	buf  []ErrorEntry
	next int // where the next entry goes
	full bool
}

// maxFieldText bounds a string field or message kept in the ring, so one
// huge error (a whole payload in a field) cannot hold megabytes.
const maxFieldText = 1024

// NewErrRing returns a ring of the last size entries (at least 1).
func NewErrRing(size int) *ErrRing {
	return &ErrRing{buf: make([]ErrorEntry, max(size, 1))}
}

// Core is a zapcore.Core to tee into the service's logger: it records
// Error-level entries and drops the rest.
func (r *ErrRing) Core() zapcore.Core { return &ringCore{ring: r} }

// Entries returns the kept entries, newest first.
func (r *ErrRing) Entries() []ErrorEntry {
	if r == nil {
		return []ErrorEntry{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := make([]ErrorEntry, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}

func (r *ErrRing) add(e ErrorEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = e
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

type ringCore struct {
	ring   *ErrRing
	fields []zapcore.Field // from With, shared read-only between children
}

func (c *ringCore) Enabled(l zapcore.Level) bool { return l >= zapcore.ErrorLevel }

func (c *ringCore) With(fs []zapcore.Field) zapcore.Core {
	all := make([]zapcore.Field, 0, len(c.fields)+len(fs))
	return &ringCore{ring: c.ring, fields: append(append(all, c.fields...), fs...)}
}

func (c *ringCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *ringCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	for k, v := range enc.Fields {
		if s, ok := v.(string); ok {
			enc.Fields[k] = clip(s)
		}
	}
	entry := ErrorEntry{Time: e.Time.UTC(), Logger: e.LoggerName, Message: clip(e.Message)}
	if len(enc.Fields) > 0 {
		entry.Fields = enc.Fields
	}
	c.ring.add(entry)
	return nil
}

func (c *ringCore) Sync() error { return nil }

func clip(s string) string {
	if len(s) > maxFieldText {
		cut := maxFieldText
		for cut > 0 && !utf8.RuneStart(s[cut]) { // never split a character
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}
