// Package httpx is the HTTP plumbing every long-running command shares,
// written once: the server configuration (timeouts that keep slow or idle
// clients from holding connections) and the Prometheus registry its /metrics
// serves, with the Go runtime and process collectors.
package httpx

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
)

// NewServer returns an http.Server for h. Its errors (TLS handshakes, bad
// requests the standard library logs) go to log.
func NewServer(addr string, h http.Handler, log *zap.Logger) *http.Server {
	if log == nil {
		log = zap.NewNop()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log),
	}
}

// NewRegistry returns a process's metrics registry: no global state, the Go
// runtime and process collectors registered.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
