package assets_test

import (
	"testing"

	"github.com/pierhq/pier/assets"
)

func TestContentType(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, want string }{
		{"/index.html", "text/html; charset=utf-8"},
		{"/INDEX.HTM", "text/html; charset=utf-8"},
		{"/style.css", "text/css; charset=utf-8"},
		{"/app.js", "text/javascript; charset=utf-8"},
		{"/mod.mjs", "text/javascript; charset=utf-8"},
		{"/data.json", "application/json; charset=utf-8"},
		{"/app.js.map", "application/json; charset=utf-8"},
		{"/robots.txt", "text/plain; charset=utf-8"},
		{"/feed.xml", "application/xml; charset=utf-8"},
		{"/logo.svg", "image/svg+xml; charset=utf-8"},
		{"/w.wasm", "application/wasm"},
		{"/a.png", "image/png"},
		{"/a.jpg", "image/jpeg"},
		{"/a.JPEG", "image/jpeg"},
		{"/a.gif", "image/gif"},
		{"/a.webp", "image/webp"},
		{"/a.avif", "image/avif"},
		{"/favicon.ico", "image/x-icon"},
		{"/f.woff", "font/woff"},
		{"/f.woff2", "font/woff2"},
		{"/f.ttf", "font/ttf"},
		{"/f.otf", "font/otf"},
		{"/doc.pdf", "application/pdf"},
		{"/v.mp4", "video/mp4"},
		{"/v.webm", "video/webm"},
		{"/a.mp3", "audio/mpeg"},
		{"/README.md", "text/markdown; charset=utf-8"},
		{"/t.csv", "text/csv; charset=utf-8"},
		{"/site.webmanifest", "application/manifest+json; charset=utf-8"},
		{"/noext", assets.DefaultContentType},
		{"/dir.d/noext", assets.DefaultContentType},
		{"/unknown.xyz123", assets.DefaultContentType},
		{"/trailing.", assets.DefaultContentType},
		{"", assets.DefaultContentType},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			if got := assets.ContentType(tc.path); got != tc.want {
				t.Errorf("ContentType(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestCompressible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ct   string
		want bool
	}{
		{"text/html; charset=utf-8", true},
		{"text/css", true},
		{"text/javascript; charset=utf-8", true},
		{"application/javascript", true},
		{"application/json", true},
		{"application/ld+json", true},
		{"application/manifest+json; charset=utf-8", true},
		{"application/xml", true},
		{"image/svg+xml; charset=utf-8", true},
		{"application/wasm", true},
		{"font/ttf", true},
		{"image/x-icon", true},
		{"TEXT/PLAIN", true},
		{"image/png", false},
		{"image/jpeg", false},
		{"image/webp", false},
		{"font/woff2", false},
		{"font/woff", false},
		{"video/mp4", false},
		{"application/zip", false},
		{"application/gzip", false},
		{"application/pdf", false},
		{"application/octet-stream", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.ct, func(t *testing.T) {
			t.Parallel()
			if got := assets.Compressible(tc.ct); got != tc.want {
				t.Errorf("Compressible(%q) = %v, want %v", tc.ct, got, tc.want)
			}
		})
	}
}

// Every type in the table that names a text format carries a charset, and
// every extension's type agrees with Compressible on the obvious cases.
func TestContentTypeTextHasCharset(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/a.html", "/a.css", "/a.js", "/a.json", "/a.txt", "/a.xml", "/a.svg", "/a.md", "/a.csv", "/a.map", "/a.webmanifest"} {
		ct := assets.ContentType(p)
		if !assets.Compressible(ct) {
			t.Errorf("%s: %q not compressible", p, ct)
		}
		if len(ct) < 15 || ct[len(ct)-15:] != "; charset=utf-8" {
			t.Errorf("%s: %q has no charset", p, ct)
		}
	}
}
