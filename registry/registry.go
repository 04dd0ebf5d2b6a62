package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/twmb/franz-go/pkg/sr"
)

var (
	// ErrSchemaNotFound: the registry does not know the id (HTTP 404) or
	// refuses the request outright (other 4xx that retrying cannot fix).
	ErrSchemaNotFound = errors.New("not found in registry")
	// ErrSchemaUnsupported: the schema exists but cannot be used here (not
	// Avro, or it has references).
	ErrSchemaUnsupported = errors.New("unsupported schema")
)

// Poison reports whether err says the record itself is unusable, as opposed
// to the registry being unreachable or failing.
func Poison(err error) bool {
	return errors.Is(err, ErrSchemaNotFound) || errors.Is(err, ErrSchemaUnsupported)
}

// Client is a Schema Registry client with the service's error model.
type Client struct{ c *sr.Client }

// New returns a client of the registry at rawURL, which must be an absolute
// http(s) URL.
func New(rawURL string, opts ...sr.ClientOpt) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", rawURL)
	}
	c, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(rawURL)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Client{c}, nil
}

// SchemaByID returns the Avro writer schema registered under id.
func (r *Client) SchemaByID(ctx context.Context, id int) (string, error) {
	s, err := r.c.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if !errors.As(err, &re) {
			return "", err // no HTTP answer: network failure, timeout, cancellation
		}
		switch code := re.StatusCode; {
		// 401/403 are a credentials problem of this deployment, 408/429 are
		// back-pressure: none says anything about the record, and dead-
		// lettering every Avro record until someone notices would be worse.
		case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests,
			code == http.StatusUnauthorized, code == http.StatusForbidden:
			return "", fmt.Errorf("registry answered HTTP %d: %w", code, err)
		case code >= 400:
			return "", fmt.Errorf("%w (HTTP %d: %v)", ErrSchemaNotFound, code, err)
		}
		return "", fmt.Errorf("registry answered HTTP %d: %w", re.StatusCode, err)
	}
	if s.Type != sr.TypeAvro {
		return "", fmt.Errorf("%w: type %s, want AVRO", ErrSchemaUnsupported, s.Type)
	}
	if len(s.References) > 0 {
		// Debezium's Avro schemas are self-contained; resolving references
		// would need a second lookup protocol for no known producer.
		return "", fmt.Errorf("%w: schema references are not supported", ErrSchemaUnsupported)
	}
	return s.Schema, nil
}

// Register registers the Avro schema under subject, or finds it registered,
// and returns its id. The registry answers an identical schema with the
// existing id and creates no new version, so calling it on every start is
// safe. It makes one request, where sr.Client.CreateSchema would make two or
// more to fetch details nobody here needs.
func (r *Client) Register(ctx context.Context, subject, schema string) (int, error) {
	id, err := r.c.RegisterSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("register schema under %s: %w", subject, err)
	}
	return id, nil
}
