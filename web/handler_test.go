package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

var built = fstest.MapFS{
	"index.html":              {Data: []byte(`<!doctype html><title>Pier</title><script type="module" src="/assets/index-abc123.js"></script>`)},
	"assets/index-abc123.js":  {Data: []byte(strings.Repeat("console.log('pier');\n", 50))},
	"assets/index-abc123.css": {Data: []byte("body{margin:0}")},
	"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h := NewHandler(built)
	tests := []struct {
		name, method, path string
		status             int
		ctype, cache, body string
	}{
		{"root is the page", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", "<title>Pier</title>"},
		{"index.html is the page", "GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", "<title>Pier</title>"},
		{"console route falls back to the page", "GET", "/sites", 200, "text/html; charset=utf-8", "no-cache", "<title>Pier</title>"},
		{"nested console route", "GET", "/tenants/acme/sites", 200, "text/html; charset=utf-8", "no-cache", "<title>Pier</title>"},
		{"hashed script is immutable", "GET", "/assets/index-abc123.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "console.log"},
		{"hashed style", "GET", "/assets/index-abc123.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "margin"},
		{"unhashed file is revalidated", "GET", "/favicon.svg", 200, "image/svg+xml", "no-cache", "<svg"},
		{"missing asset is 404, not the page", "GET", "/assets/gone-123.js", 404, "text/plain; charset=utf-8", "no-store", "not found"},
		{"missing file with extension is 404", "GET", "/robots.txt", 404, "text/plain; charset=utf-8", "no-store", "not found"},
		{"api path never falls back", "GET", "/api/v1/nothing", 404, "text/plain; charset=utf-8", "", "/api/v1"},
		{"bare api path never falls back", "GET", "/api", 404, "text/plain; charset=utf-8", "", "/api/v1"},
		{"post is refused", "POST", "/", 405, "text/plain; charset=utf-8", "", "method not allowed"},
		{"head has no body", "HEAD", "/", 200, "text/html; charset=utf-8", "no-cache", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, h, tt.method, tt.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if tt.body == "" && len(body) != 0 || !strings.Contains(string(body), tt.body) {
				t.Errorf("body %q, want it to contain %q", body, tt.body)
			}
			for k, want := range map[string]string{
				"Content-Security-Policy": ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "same-origin",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestHandlerGzipAndETag(t *testing.T) {
	h := NewHandler(built)
	plain := get(t, h, "GET", "/assets/index-abc123.js", nil)
	want, _ := io.ReadAll(plain.Body)
	t.Run("gzip when accepted", func(t *testing.T) {
		res := get(t, h, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": "br, gzip"})
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q, want gzip", res.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		if string(got) != string(want) {
			t.Errorf("gunzipped body differs from the plain one")
		}
	})
	t.Run("no gzip when refused", func(t *testing.T) {
		res := get(t, h, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
		if res.Header.Get("Content-Encoding") != "" {
			t.Errorf("Content-Encoding %q, want none", res.Header.Get("Content-Encoding"))
		}
	})
	t.Run("matching ETag is 304", func(t *testing.T) {
		res := get(t, h, "GET", "/", map[string]string{"If-None-Match": get(t, h, "GET", "/", nil).Header.Get("ETag")})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("status %d, want 304", res.StatusCode)
		}
	})
}

func TestPlaceholder(t *testing.T) {
	h := NewHandler(nil)
	for _, p := range []string{"/", "/sites"} {
		t.Run(p, func(t *testing.T) {
			res := get(t, h, "GET", p, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || !strings.Contains(string(body), "make web") {
				t.Errorf("status %d body %q, want 200 and the page saying to run make web", res.StatusCode, body)
			}
			if res.Header.Get("Content-Security-Policy") != ContentSecurityPolicy {
				t.Errorf("placeholder without the CSP")
			}
		})
	}
	if res := get(t, h, "GET", "/api/v1/x", nil); res.StatusCode != 404 {
		t.Errorf("api path: status %d, want 404", res.StatusCode)
	}
}

// TestContentSecurityPolicy pins what the console's policy allows:
// scripts and workers only from its own origin, WebAssembly compilation
// (for the Deploy page's hashing worker) in script-src only, and never
// eval or inline code.
func TestContentSecurityPolicy(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src":     "'self'",
		"script-src":      "'self' 'wasm-unsafe-eval'",
		"worker-src":      "'self'",
		"connect-src":     "'self'",
		"style-src":       "'self'",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
	} {
		t.Run(name, func(t *testing.T) {
			if got := directives[name]; got != want {
				t.Errorf("%s %q, want %q", name, got, want)
			}
		})
	}
	for _, bad := range []string{"'unsafe-eval'", "'unsafe-inline'", "*", "blob:"} {
		if strings.Contains(strings.ReplaceAll(ContentSecurityPolicy, "'wasm-unsafe-eval'", ""), bad) {
			t.Errorf("the policy allows %s: %s", bad, ContentSecurityPolicy)
		}
	}
	if n := strings.Count(ContentSecurityPolicy, "'wasm-unsafe-eval'"); n != 1 {
		t.Errorf("'wasm-unsafe-eval' appears %d times, want once (script-src)", n)
	}
}
