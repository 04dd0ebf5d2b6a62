// Package httpapi serves the operator's HTTP endpoints: the debug view of the
// content table, stats, health, readiness and Prometheus metrics.
//
// It only reads: nothing here can change the view. Bad requests get a 4xx with
// a JSON {"error": ...} body: an unknown path 404, a known path asked with a
// method it does not serve 405 with an Allow header. The server has read,
// write and idle timeouts so a slow client cannot hold a connection forever.
//
// /readyz answers 503 until the view is ready, with the reason: "content view
// catching up", or, while no broker answers, "kafka unreachable at ...".
//
// The operator console (console.go) is served at / from files embedded in
// the binary, under a Content-Security-Policy of the service's own origin;
// it reads /debug/overview (overview.go: readiness, lag, counters, latency
// quantiles over the last minute (latency.go: readings kept when asked, so
// no goroutine) and since start, and the last Error-level log entries that
// ErrRing keeps) and
// /debug/top (top.go: Redis engagement:top:10m, which answers 200 with
// available=false rather than an error when Redis is absent or down).
package httpapi
