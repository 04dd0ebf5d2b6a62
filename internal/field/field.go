// Package field is how a package refuses a value of its Config: an *Error
// names the Go field and says what is wrong with the value, in words that
// read after whatever names the field. Packages know nothing of flags or
// environment variables; cmd/enricher maps the field to the flag that sets it
// (cli.NameField), so the one-line error an operator sees names the flag and
// its variable.
package field

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// Error is a Config value a package refuses: Field is the name of the
// Config field, Err what is wrong with it (its message is written to follow
// whatever names the field, a flag for instance: "must be positive").
type Error struct {
	Field string
	Err   error
}

func (e *Error) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Refuse returns an *Error for field with the problem problem.
func Refuse(field, problem string) error {
	return &Error{Field: field, Err: errors.New(problem)}
}

// CheckHTTPURL refuses a non-empty value that is not an http(s) URL with a host.
func CheckHTTPURL(field, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Refuse(field, fmt.Sprintf("%q is not an http(s) URL", v))
	}
	return nil
}

// CheckHostPort refuses a value that is not host:port.
func CheckHostPort(field, v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return Refuse(field, fmt.Sprintf("%q is not host:port", v))
	}
	return nil
}

// Listen listens on addr; its error is a *Error of field.
func Listen(field, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, Refuse(field, fmt.Sprintf("listen on %q: %v (is the port in use?)", addr, err))
	}
	return ln, nil
}
