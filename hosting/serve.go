package hosting

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pierhq/pier/assets"
)

// sharedValues are immutable header value slices shared by all responses
// of an Edge (cap == len, so an append by a middleware copies).
type sharedValues struct {
	textPlain    []string
	nosniff      []string
	noStore      []string
	cacheDefault []string
	allow        []string
	noindex      []string
}

func newSharedValues() sharedValues {
	return sharedValues{
		textPlain:    []string{"text/plain; charset=utf-8"},
		nosniff:      []string{nosniff},
		noStore:      []string{"no-store"},
		cacheDefault: []string{defaultCacheControl},
		allow:        []string{"GET, HEAD"},
		noindex:      []string{"noindex"},
	}
}

// writeString writes s without converting it to a byte slice when w can
// take strings (net/http's writer can).
func writeString(w http.ResponseWriter, s string) {
	io.WriteString(w, s)
}

// serve answers a GET or HEAD for a loaded deployment: _redirects, then
// html_handling, then not_found_handling.
func (e *Edge) serve(w http.ResponseWriter, r *http.Request, d *deployment, preview bool) {
	up := r.URL.Path
	if up == "" {
		up = "/" // absolute-form request target without a path
	}
	p, ok := requestPath(up)
	if !ok {
		e.plain(w, http.StatusBadRequest, "bad request: malformed path\n")
		return
	}
	h := w.Header()
	if preview {
		h["X-Robots-Tag"] = e.vals.noindex
	}
	if d.redirects != nil {
		if rd, ok := d.redirects.Match(p, r.URL.RawQuery); ok {
			if rd.Status != http.StatusOK {
				d.headers.Apply(p, h)
				h["Location"] = []string{rd.To}
				w.WriteHeader(rd.Status)
				return
			}
			e.rewrite(w, r, d, p, rd.To)
			return
		}
	}
	if t := d.table[p]; t != nil {
		if t.file == nil {
			t.headers.writeTo(h)
			e.redirect(w, r, t.location)
			return
		}
		if !e.canonical(w, r, p) {
			return
		}
		t.headers.writeTo(h)
		e.serveFile(w, r, t.file, http.StatusOK)
		return
	}
	e.notFound(w, r, d, p, p, true)
}

// rewrite serves the asset at the decoded path of a 200 rule's destination
// without running _redirects again. An html_handling redirect of the
// destination is followed internally: the visitor's URL does not change.
// _headers applies for the request's path p, as for any response.
func (e *Edge) rewrite(w http.ResponseWriter, r *http.Request, d *deployment, p, to string) {
	if i := strings.IndexAny(to, "?#"); i >= 0 {
		to = to[:i]
	}
	dp, err := decodePath(to)
	if err != nil {
		e.plain(w, http.StatusBadRequest, "bad request: malformed path\n")
		return
	}
	if dp, ok := requestPath(dp); ok {
		t := d.table[dp]
		if t != nil && t.file == nil {
			t = d.table[t.dest]
		}
		if t != nil && t.file != nil {
			e.serveDynamic(w, r, d, p, t.file, http.StatusOK)
			return
		}
		e.notFound(w, r, d, dp, p, false)
		return
	}
	e.plain(w, http.StatusBadRequest, "bad request: malformed path\n")
}

// notFound applies not_found_handling to decoded path p; hp is the path
// _headers applies for (the request's). canonical asks for a redirect to
// the canonical spelling of p when an asset is served.
func (e *Edge) notFound(w http.ResponseWriter, r *http.Request, d *deployment, p, hp string, canonical bool) {
	f, status := d.fallback(p)
	if f == nil {
		d.headers.Apply(hp, w.Header())
		e.plain404(w)
		return
	}
	if canonical && !e.canonical(w, r, p) {
		return
	}
	e.serveDynamic(w, r, d, hp, f, status)
}

// plain404 is the short 404 of a configured site without a matching asset.
func (e *Edge) plain404(w http.ResponseWriter) {
	h := w.Header()
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = e.vals.textPlain
	}
	h["X-Content-Type-Options"] = e.vals.nosniff
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = e.vals.cacheDefault
	}
	w.WriteHeader(http.StatusNotFound)
	writeString(w, "not found\n")
}

// serveDynamic serves f at a path whose header set was not precomputed
// (not_found_handling and rewrites).
func (e *Edge) serveDynamic(w http.ResponseWriter, r *http.Request, d *deployment, p string, f *file, status int) {
	h := w.Header()
	f.plain.writeTo(h)
	if d.headers != nil {
		d.headers.Apply(p, h)
		fixVary(h, f)
	}
	e.serveFile(w, r, f, status)
}

// canonical reports whether the request spelled decoded path p in its
// canonical encoding; if not, it answers a 307 to that encoding (as
// Cloudflare does, e.g. /[x] → /%5Bx%5D, //a → /a) and returns false.
func (e *Edge) canonical(w http.ResponseWriter, r *http.Request, p string) bool {
	if p == r.URL.Path && canonicalFast(p, r.URL.RawPath) {
		return true
	}
	enc := encodePath(p)
	if enc == r.URL.EscapedPath() {
		return true
	}
	e.redirect(w, r, enc)
	return false
}

// redirect answers a 307 to the encoded path loc, keeping the query.
func (e *Edge) redirect(w http.ResponseWriter, r *http.Request, loc string) {
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header()["Location"] = []string{loc}
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// serveFile writes f with status (200, or 404 for a 404 page) after the
// caller has set the file's header set: variant negotiation, ETag,
// If-None-Match, Range and HEAD.
func (e *Edge) serveFile(w http.ResponseWriter, r *http.Request, f *file, status int) {
	h := w.Header()
	v := identity
	if f.vary {
		v = negotiate(r.Header["Accept-Encoding"], f.has(brotli), f.has(gzip))
	}
	vr := &f.variants[v]
	if status == http.StatusOK {
		h["Etag"] = vr.etag
		if inm, ok := r.Header["If-None-Match"]; ok && etagMatch(inm, vr.etag[0]) {
			delete(h, "Content-Type")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if vr.encoding != nil {
		h["Content-Encoding"] = vr.encoding
	}
	data, err := e.blobs.Bytes(r.Context(), vr.key)
	if err == nil && int64(len(data)) != vr.size {
		err = errSizeMismatch
	}
	if err != nil {
		e.blobError(w, r, f, vr, err)
		return
	}
	if status == http.StatusOK && (len(r.Header["Range"]) > 0 || len(r.Header["If-Match"]) > 0 || len(r.Header["If-Unmodified-Since"]) > 0) {
		// The rare conditional and range requests take the standard
		// library's path (it reads the ETag and Content-Type set above).
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		return
	}
	h["Content-Length"] = vr.length
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

var errSizeMismatch = errors.New("hosting: blob size does not match the manifest")

// blobError answers a failed blob read: 503 when storage is unavailable,
// 502 otherwise; the cause is logged, never shown.
func (e *Edge) blobError(w http.ResponseWriter, r *http.Request, f *file, vr *variant, err error) {
	if r.Context().Err() != nil {
		return
	}
	e.log.Error("hosting: reading blob", "key", vr.key, "path", f.path, "err", err)
	h := w.Header()
	for _, k := range [...]string{"Etag", "Content-Encoding", "Vary", "Cache-Control", "Content-Type", "Accept-Ranges"} {
		delete(h, k)
	}
	status := http.StatusBadGateway
	if errors.Is(err, assets.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusServiceUnavailable
	}
	e.plain(w, status, http.StatusText(status)+"\n")
}
