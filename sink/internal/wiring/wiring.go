package wiring

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/registry"
	"github.com/thmanyah/enricher/schemas"
)

// FieldError is a Config value a sink refuses: Field is the name of the
// Config field, Err what is wrong with it (its message is written to follow
// whatever names the field, a flag for instance: "must be positive").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// Refuse returns a *FieldError for field with the problem problem.
func Refuse(field, problem string) error {
	return &FieldError{Field: field, Err: errors.New(problem)}
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

// NewDecoder returns the decoder of processed_engagements records, with a
// Schema Registry client when registryURL is set (Confluent-framed records
// need one; single-object records do not).
func NewDecoder(registryField, registryURL string) (*schemas.Decoder, error) {
	var src schemas.SchemaSource
	if registryURL != "" {
		cl, err := registry.New(registryURL)
		if err != nil {
			return nil, &FieldError{Field: registryField, Err: err}
		}
		src = cl
	}
	return schemas.NewDecoder(src)
}

// NewDLQWriter returns the writer of dead letters and creates topic when it
// is missing, so that a fresh cluster works; a failure to create it is
// logged, leaving the topic to auto-creation or to whoever manages topics.
func NewDLQWriter(ctx context.Context, brokers []string, topic string, log *zap.Logger) *kafka.Writer {
	if err := kafkax.EnsureTopics(ctx, brokers, log, kafkax.Topic(topic, 1, "")); err != nil {
		log.Warn("create the dlq topic (it may need to be created by hand)", zap.String("topic", topic), zap.Error(err))
	}
	return kafkax.NewWriter(brokers)
}

// Listen listens on addr; its error is a *FieldError of field.
func Listen(field, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, Refuse(field, fmt.Sprintf("listen on %q: %v (is the port in use?)", addr, err))
	}
	return ln, nil
}
