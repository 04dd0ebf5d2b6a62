package httpapi

import "net/http"

// dlqRoutes registers the dead-letter topic's latest records.
func (h *handler) dlqRoutes(mux *http.ServeMux) {}
