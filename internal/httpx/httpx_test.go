package httpx

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestSlowClientIsCutOff: a client that opens a connection and dribbles its
// request (slowloris) is disconnected by the server's header timeout instead
// of holding the connection; other clients are served meanwhile.
func TestSlowClientIsCutOff(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	srv := NewServer("127.0.0.1:0", h, nil)
	srv.ReadHeaderTimeout = 200 * time.Millisecond // production: 5s; the behaviour is the same
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil { // never finishes the headers
		t.Fatal(err)
	}
	res, err := http.Get("http://" + l.Addr().String() + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("another client while one is slow: %v %v", res, err)
	}
	res.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the slow connection open for 10s (read %q)", b)
	}
}

func TestNewRegistryHasProcessMetrics(t *testing.T) {
	mfs, err := NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if !names[want] {
			t.Errorf("got no %s; the registry must carry the Go and process collectors", want)
		}
	}
}
