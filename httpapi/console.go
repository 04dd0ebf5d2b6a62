package httpapi

import "net/http"

// consoleRoutes registers the console at / and the endpoints only it needs.
func (h *handler) consoleRoutes(mux *http.ServeMux) {}
