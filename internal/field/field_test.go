package field

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		wantErr string // "" for no error
	}{
		{"http url", CheckHTTPURL("URL", "http://localhost:8081"), ""},
		{"https url", CheckHTTPURL("URL", "https://registry.example/x"), ""},
		{"empty url is no url", CheckHTTPURL("URL", ""), ""},
		{"no scheme", CheckHTTPURL("URL", "localhost:8081"), `"localhost:8081" is not an http(s) URL`},
		{"no host", CheckHTTPURL("URL", "http://"), `"http://" is not an http(s) URL`},
		{"host port", CheckHostPort("Addr", "127.0.0.1:0"), ""},
		{"no port", CheckHostPort("Addr", "localhost"), `"localhost" is not host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantErr == "" {
				if tc.err != nil {
					t.Fatalf("got %v, want nil", tc.err)
				}
				return
			}
			fe, ok := errors.AsType[*Error](tc.err)
			if !ok || fe.Err.Error() != tc.wantErr {
				t.Fatalf("got %v, want a field error %q", tc.err, tc.wantErr)
			}
		})
	}
}

func TestListenNamesTheField(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen("HTTPAddr", ln.Addr().String())
	fe, ok := errors.AsType[*Error](err)
	if !ok || fe.Field != "HTTPAddr" || !strings.Contains(fe.Err.Error(), "is the port in use?") {
		t.Fatalf("got %v, want a field error of HTTPAddr saying the port may be in use", err)
	}
}
