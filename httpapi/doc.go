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
package httpapi
