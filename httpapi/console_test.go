package httpapi

import (
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleAssets: the page and its files are served from the binary with
// their content types, a strong ETag that a revalidation answers with 304,
// and a Content-Security-Policy that allows only the service's own origin.
func TestConsoleAssets(t *testing.T) {
	srv := newTestServer(t, true)
	for _, tc := range []struct {
		name, path, ctype, body string
	}{
		{"page", "/", "text/html; charset=utf-8", `<script type="module" src="/console/app.js">`},
		{"script", "/console/app.js", "text/javascript; charset=utf-8", "function h(tag"},
		{"style", "/console/app.css", "text/css; charset=utf-8", "ol.timeline"},
		{"vendored chart library", "/console/vendor/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8", "uPlot"},
		{"its licence", "/console/vendor/uplot/LICENSE", "text/plain; charset=utf-8", "MIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			if res.StatusCode != 200 {
				t.Fatalf("GET %s: got %d, want 200", tc.path, res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type: got %q, want %q", got, tc.ctype)
			}
			if !strings.Contains(body, tc.body) {
				t.Errorf("body: no %q", tc.body)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.HasPrefix(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self';") {
				t.Errorf("Content-Security-Policy: got %q, want default-src 'self' and script-src 'self' only", csp)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
			}
			etag := res.Header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
				t.Fatalf("ETag: got %q, want a strong hash", etag)
			}
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			req.Header.Set("If-None-Match", etag)
			res2, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if b := readAll(t, res2); res2.StatusCode != http.StatusNotModified || b != "" {
				t.Errorf("revalidation with its ETag: got %d and %d bytes, want 304 and none", res2.StatusCode, len(b))
			}
		})
	}
	code, body := get(t, srv, "/console/nope.js")
	if code != 404 || !strings.Contains(body, `"error":"no such console file: nope.js"`) {
		t.Errorf("unknown console file: got %d %s, want 404 with a JSON error", code, body)
	}
}

// TestConsoleBuildsNoHTMLFromData: the console's script never parses
// strings as HTML, the rule that keeps a hostile title inert (the browser
// test shows one rendered as text; this keeps every other page honest).
func TestConsoleBuildsNoHTMLFromData(t *testing.T) {
	banned := regexp.MustCompile(`\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(|new Function\(`)
	err := fs.WalkDir(assets, "console", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") || strings.Contains(p, "/vendor/") {
			return err
		}
		b, _ := assets.ReadFile(p)
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if m := banned.FindString(line); m != "" {
				t.Errorf("%s:%d: uses %s", p, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConsoleReferencesOnlyEmbeddedFiles: every script and stylesheet the
// page names is one the binary serves, and none comes from another host.
func TestConsoleReferencesOnlyEmbeddedFiles(t *testing.T) {
	srv := newTestServer(t, true)
	_, page := get(t, srv, "/")
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 4 {
		t.Fatalf("page: got %d references, want its script, style and uPlot's two files", len(refs))
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], "/console/") {
			t.Errorf("page references %q, want only /console/ files", m[1])
			continue
		}
		if code, _ := get(t, srv, m[1]); code != 200 {
			t.Errorf("GET %s: got %d, want 200", m[1], code)
		}
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
