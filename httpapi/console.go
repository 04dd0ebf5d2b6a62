package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// assets is the console: one page, its script and style, and vendored
// libraries with their licences. Nothing is fetched from elsewhere.
//
//go:embed console
var assets embed.FS

// consoleCSP allows the page only its own origin: no inline script, no
// third-party host, no framing. uPlot sets styles from script (CSSOM), which
// style-src does not restrict.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes is fixed here rather than read from mime.TypeByExtension,
// which consults the host's mime.types and so differs between machines.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// loadAssets reads every embedded file once, with its content type and a
// strong ETag of its bytes, so a revalidation is a hash comparison.
func loadAssets() map[string]asset {
	out := map[string]asset{}
	_ = fs.WalkDir(assets, "console", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "text/plain; charset=utf-8" // LICENSE, VERSION
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "console/")] = asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return out
}

// consoleRoutes registers the console at / and the endpoints only it needs.
func (h *handler) consoleRoutes(mux *http.ServeMux) {
	files := loadAssets()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { serveAsset(w, r, files["index.html"]) })
	mux.HandleFunc("GET /console/{file...}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := files[r.PathValue("file")]
		if !ok {
			writeError(w, http.StatusNotFound, "no such console file: "+truncate(r.PathValue("file")))
			return
		}
		serveAsset(w, r, a)
	})
	mux.HandleFunc("GET /debug/overview", h.overview)
	mux.HandleFunc("GET /debug/top", h.top)
}

// serveAsset answers with the file, or 304 when the browser holds these
// bytes already. no-cache means "revalidate", so a new binary's console is
// picked up at once while an unchanged one costs no transfer.
func serveAsset(w http.ResponseWriter, r *http.Request, a asset) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", consoleCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	hd.Set("Content-Type", a.ctype)
	// ServeContent handles If-None-Match, ranges and HEAD; a zero time leaves Last-Modified out.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
