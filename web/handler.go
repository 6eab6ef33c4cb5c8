package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// ContentSecurityPolicy is the policy of every console response: the
// built page has no inline script or style, and talks only to its own
// origin. 'wasm-unsafe-eval' (in script-src only) lets the Deploy page's
// hashing Web Worker compile xxhash-wasm's WebAssembly module; it allows
// WebAssembly compilation and nothing else (no eval, no new Function, no
// inline script), and scripts still come only from the console's own
// files (docs/architecture.md §8). Workers fall back to script-src.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Cache-Control values: Vite names the files under assets/ by their
// content hash, so they never change; everything else is revalidated.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheRevalid   = "no-cache"
)

// types are the Content-Types of the files a Vite build writes, fixed
// here so that they do not depend on the host's MIME tables.
var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
}

// file is one served file, read once from the embedded tree.
type file struct {
	body  []byte
	gz    []byte // gzip variant, or nil when it would not be smaller
	ctype string
	etag  string
	cache string
}

// Handler serves the console from the files built into the binary, or
// the placeholder page when it was built without them.
func Handler() http.Handler {
	return NewHandler(Files())
}

// NewHandler serves the console in fsys (rooted at its index.html), or
// the placeholder when fsys is nil. It reads every file once, here.
// Paths under /api/ are never answered with the console: they get a
// plain 404, so a mistyped API call never looks like a success.
func NewHandler(fsys fs.FS) http.Handler {
	h := &handler{files: map[string]*file{}}
	if fsys == nil {
		h.index = newFile("index.html", placeholder())
		return h
	}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h.files["/"+p] = newFile(p, b)
		return nil
	})
	if err != nil {
		panic("web: reading the embedded console: " + err.Error())
	}
	h.index = h.files["/index.html"]
	if h.index == nil {
		h.index = newFile("index.html", placeholder())
	}
	return h
}

func newFile(name string, b []byte) *file {
	sum := sha256.Sum256(b)
	f := &file{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: cacheRevalid}
	ext := path.Ext(name)
	f.ctype = types[ext]
	if f.ctype == "" {
		if f.ctype = mime.TypeByExtension(ext); f.ctype == "" {
			f.ctype = "application/octet-stream"
		}
	}
	if strings.HasPrefix(name, "assets/") {
		f.cache = cacheImmutable
	}
	if compressible(f.ctype) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b) {
			f.gz = buf.Bytes()
		}
	}
	return f
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") ||
		strings.HasPrefix(ctype, "application/manifest+json") || strings.HasPrefix(ctype, "image/svg")
}

type handler struct {
	files map[string]*file
	index *file
}

// SetSecurityHeaders sets the headers every console response carries.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SetSecurityHeaders(w.Header())
	p := r.URL.Path
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		http.Error(w, "404 not found (the API is under /api/v1)", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f := h.files[p]
	switch {
	case p == "/" || p == "/index.html":
		f = h.index
	case f != nil:
	case strings.HasPrefix(p, "/assets/") || path.Ext(p) != "":
		// A missing file is an error, not a console route: answering a
		// missing script with the page would hide the mistake.
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "404 not found", http.StatusNotFound)
		return
	default:
		f = h.index // a console route: the page routes itself
	}
	serve(w, r, f)
}

func serve(w http.ResponseWriter, r *http.Request, f *file) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", f.cache)
	hd.Set("ETag", f.etag)
	if f.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding allows gzip (q > 0).
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
