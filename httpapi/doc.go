// Package httpapi serves the operator's HTTP endpoints: the debug view of the
// content table, stats, health, readiness and Prometheus metrics.
//
// It only reads: nothing here can change the view. Bad requests get a 4xx with
// a JSON {"error": ...} body; the server has read, write and idle timeouts so a
// slow client cannot hold a connection forever.
package httpapi
