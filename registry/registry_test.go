package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"
)

const avroLong = `{"type":"long"}`

func TestNewRejectsNonHTTPURLs(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"empty", ""},
		{"no scheme", "localhost:8081"},
		{"other scheme", "ftp://registry:8081"},
		{"no host", "http://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.url); err == nil || !strings.Contains(err.Error(), "is not an http(s) URL") {
				t.Errorf("New(%q): got %v, want a not-an-http(s)-URL error", tc.url, err)
			}
		})
	}
}

func TestSchemaByIDAndRegister(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	c, err := New(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := c.Register(ctx, "s-value", avroLong)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	again, err := c.Register(ctx, "s-value", avroLong)
	if err != nil || again != id {
		t.Fatalf("Register again: got %d, %v, want %d", again, err, id)
	}
	got, err := c.SchemaByID(ctx, id)
	if err != nil || got != avroLong {
		t.Fatalf("SchemaByID(%d): got %q, %v, want %q", id, got, err, avroLong)
	}
	if _, err := c.SchemaByID(ctx, id+100); !Poison(err) {
		t.Errorf("unknown id: got %v, want a poison error", err)
	}
}

// TestSchemaByIDClassifies: which registry answers make a record poison and
// which are the registry's own trouble, worth retrying.
func TestSchemaByIDClassifies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		poison bool
	}{
		{"not found", http.StatusNotFound, `{"error_code":40403,"message":"Schema not found"}`, true},
		{"bad request", http.StatusBadRequest, `{"error_code":400,"message":"bad"}`, true},
		{"unprocessable", http.StatusUnprocessableEntity, `{"error_code":42201,"message":"invalid"}`, true},
		{"server error", http.StatusInternalServerError, `{"error_code":50001,"message":"store"}`, false},
		{"unavailable", http.StatusServiceUnavailable, `{"error_code":50301,"message":"down"}`, false},
		{"timeout", http.StatusRequestTimeout, `{"error_code":408,"message":"slow"}`, false},
		{"throttled", http.StatusTooManyRequests, `{"error_code":429,"message":"slow down"}`, false},
		{"unauthorized", http.StatusUnauthorized, `{"error_code":401,"message":"who"}`, false},
		{"forbidden", http.StatusForbidden, `{"error_code":403,"message":"no"}`, false},
		{"protobuf schema", http.StatusOK, `{"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF"}`, true},
		{"references", http.StatusOK, `{"schema":"{\"type\":\"long\"}","references":[{"name":"x","subject":"x","version":1}]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			c, err := New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.SchemaByID(context.Background(), 7)
			if err == nil {
				t.Fatal("got no error")
			}
			if got := Poison(err); got != tc.poison {
				t.Errorf("Poison(%v) = %v, want %v", err, got, tc.poison)
			}
		})
	}
}

func TestUnreachableIsNotPoison(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SchemaByID(context.Background(), 1); err == nil || Poison(err) {
		t.Errorf("got %v, want a retryable error", err)
	}
}
