package hosting

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/logstream"
)

// sharedValues are header value slices shared by all responses of an
// Edge: they are assigned to response headers as they are, so they must
// never be edited in place (no s[0] = …, no append to a slice with spare
// capacity); a header that needs another value gets a new slice. cap ==
// len, so an append by a middleware copies.
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

// exchange is one request being answered for a loaded deployment. It
// lives on the stack of ServeHTTP.
type exchange struct {
	e       *Edge
	w       http.ResponseWriter
	r       *http.Request
	d       *deployment
	v       *routeValue // the route; nil for the ASSETS binding
	preview bool        // X-Robots-Tag: noindex, set last so _headers cannot drop it
	// staticOnly serves the static assets only: the worker's next handler
	// and the ASSETS binding.
	staticOnly bool

	// status and bytes are what was answered, for the site's counters.
	status int
	bytes  int64
	// For the live log: outcome is how an answer other than a plain asset
	// came about (a logstream.Outcome constant, "" for an asset); failed
	// is the visitor error answered, if any; invoked says runWorker
	// publishes the event (the worker answered, or did not run).
	outcome string
	failed  *visitorError
	invoked bool
}

// writeHeader sends the status line and headers.
func (x *exchange) writeHeader(status int) {
	h := x.w.Header()
	if x.preview {
		h["X-Robots-Tag"] = x.e.vals.noindex
	}
	x.e.setDate(h)
	x.status = status
	x.w.WriteHeader(status)
}

// fail answers the visitor with ve through Edge.writeError, recording
// what was answered.
func (x *exchange) fail(ve *visitorError) {
	if x.preview {
		x.w.Header()["X-Robots-Tag"] = x.e.vals.noindex
	}
	x.status = ve.status
	x.failed = ve
	x.bytes += int64(x.e.writeError(x.w, x.r, ve))
}

// hasWorker reports whether this exchange may invoke the worker.
func (x *exchange) hasWorker() bool { return x.d.worker != "" && !x.staticOnly }

// serve answers a request (docs/architecture.md, "Dispatch order"): the worker if
// run_worker_first matches, then _redirects, then html_handling, then the
// worker if there is one, else not_found_handling. Static assets answer
// GET and HEAD only; other methods go to the worker, or get 405.
func (x *exchange) serve() {
	up := x.r.URL.Path
	if up == "" {
		up = "/" // absolute-form request target without a path
	}
	p, ok := requestPath(up)
	if !ok {
		x.fail(errMalformedPath)
		return
	}
	if x.hasWorker() {
		if x.d.runFirst.match(p) || x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
			x.runWorker()
			return
		}
	} else if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		x.w.Header()["Allow"] = x.e.vals.allow
		x.fail(errMethodNotAllowed)
		return
	}
	h := x.w.Header()
	if x.d.redirects != nil {
		if rd, ok := x.d.redirects.Match(p, x.r.URL.RawQuery); ok {
			if rd.Status != http.StatusOK {
				x.outcome = logstream.OutcomeRedirect
				x.d.headers.Apply(p, h)
				h["Location"] = []string{rd.To}
				x.writeHeader(rd.Status)
				return
			}
			x.rewrite(p, rd.To)
			return
		}
	}
	if t := x.d.table[p]; t != nil {
		if t.file == nil {
			t.headers.writeTo(h)
			x.redirect(t.location)
			return
		}
		if !x.canonical(p) {
			return
		}
		t.headers.writeTo(h)
		x.serveFile(t.file, http.StatusOK)
		return
	}
	if x.hasWorker() {
		x.runWorker()
		return
	}
	x.notFound(p, p, true)
}

// rewrite serves the asset at the decoded path of a 200 rule's destination
// without running _redirects again. An html_handling redirect of the
// destination is followed internally: the visitor's URL does not change.
// _headers applies for the request's path p, as for any response.
func (x *exchange) rewrite(p, to string) {
	x.outcome = logstream.OutcomeRewrite
	if i := strings.IndexAny(to, "?#"); i >= 0 {
		to = to[:i]
	}
	dp, err := decodePath(to)
	if err == nil {
		dp, ok := requestPath(dp)
		if ok {
			t := x.d.table[dp]
			if t != nil && t.file == nil {
				t = x.d.table[t.dest]
			}
			if t != nil && t.file != nil {
				x.serveDynamic(p, t.file, http.StatusOK)
				return
			}
			if x.hasWorker() {
				x.runWorker()
				return
			}
			x.notFound(dp, p, false)
			return
		}
	}
	x.fail(errMalformedPath)
}

// isNavigation reports whether r is a browser's top-level navigation.
func isNavigation(r *http.Request) bool {
	v := r.Header["Sec-Fetch-Mode"]
	return len(v) == 1 && v[0] == "navigate"
}

// notFound applies not_found_handling to decoded path p; hp is the path
// _headers applies for (the request's). canonical asks for a redirect to
// the canonical spelling of p when an asset is served.
func (x *exchange) notFound(p, hp string, canonical bool) {
	f, status := x.d.fallback(p, isNavigation(x.r))
	if status == http.StatusOK {
		x.outcome = logstream.OutcomeFallback
	} else {
		x.outcome = logstream.OutcomeNotFound
	}
	if f == nil {
		// The site's 404 without a page: its _headers apply, and it
		// may be cached as any asset unless they say otherwise.
		h := x.w.Header()
		x.d.headers.Apply(hp, h)
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = x.e.vals.cacheDefault
		}
		x.fail(errNotFound)
		return
	}
	if canonical && !x.canonical(p) {
		return
	}
	x.serveDynamic(hp, f, status)
}

// serveDynamic serves f at a path whose header set was not precomputed
// (not_found_handling and rewrites).
func (x *exchange) serveDynamic(p string, f *file, status int) {
	h := x.w.Header()
	f.plain.writeTo(h)
	if x.d.headers != nil {
		x.d.headers.Apply(p, h)
		fixVary(h, f)
	}
	x.serveFile(f, status)
}

// canonical reports whether the request spelled decoded path p in its
// canonical encoding; if not, it answers a 307 to that encoding (as
// Cloudflare does, e.g. /[x] → /%5Bx%5D, //a → /a) and returns false.
func (x *exchange) canonical(p string) bool {
	if p == x.r.URL.Path && canonicalFast(p, x.r.URL.RawPath) {
		return true
	}
	enc, raw := encodePath(p), x.r.URL.EscapedPath()
	if enc == raw || raw == "" && enc == "/" {
		return true
	}
	x.redirect(enc)
	return false
}

// redirect answers a 307 to the encoded path loc, keeping the query.
func (x *exchange) redirect(loc string) {
	if x.r.URL.RawQuery != "" {
		loc += "?" + x.r.URL.RawQuery
	}
	x.w.Header()["Location"] = []string{loc}
	x.outcome = logstream.OutcomeRedirect
	x.writeHeader(http.StatusTemporaryRedirect)
}

// serveFile writes f with status (200, or 404 for a 404 page) after the
// caller has set the file's header set: variant negotiation, ETag,
// If-None-Match, Range and HEAD. Conditional requests and ranges apply
// to 200s only (RFC 9110 §13.2.1).
func (x *exchange) serveFile(f *file, status int) {
	w, r := x.w, x.r
	h := w.Header()
	v := identity
	if f.vary {
		v = negotiate(r.Header["Accept-Encoding"], f.has(brotli), f.has(gzip))
	}
	vr := &f.variants[v]
	if status != http.StatusOK {
		delete(h, "Accept-Ranges") // ranges and validators apply to 200s only
	} else {
		h["Etag"] = vr.etag
		if inm, ok := r.Header["If-None-Match"]; ok && etagMatch(inm, vr.etag[0]) {
			delete(h, "Content-Type")
			x.writeHeader(http.StatusNotModified)
			return
		}
	}
	if vr.encoding != nil {
		h["Content-Encoding"] = vr.encoding
	}
	data, err := x.e.blobs.Bytes(r.Context(), vr.key)
	if err == nil && int64(len(data)) != vr.size {
		err = errSizeMismatch
	}
	if err != nil {
		x.blobError(f, vr, err)
		return
	}
	if status == http.StatusOK && (len(r.Header["Range"]) > 0 || len(r.Header["If-Match"]) > 0 || len(r.Header["If-Unmodified-Since"]) > 0) {
		// The rare conditional and range requests take the standard
		// library's path (it reads the ETag and Content-Type set above).
		if x.preview {
			h["X-Robots-Tag"] = x.e.vals.noindex
		}
		cw := &countingWriter{ResponseWriter: w}
		http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(data))
		x.status, x.bytes = cw.status, cw.bytes
		return
	}
	h["Content-Length"] = vr.length
	x.writeHeader(status)
	if r.Method != http.MethodHead {
		if rec, ok := w.(*recorder); ok {
			rec.shareBody(data) // the ASSETS binding: no copy of the blob
		} else {
			w.Write(data)
		}
		x.bytes += int64(len(data))
	}
}

// countingWriter records the status and body size of a response written
// by the standard library (the rare range and precondition path).
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (cw *countingWriter) WriteHeader(status int) {
	if cw.status == 0 {
		cw.status = status
	}
	cw.ResponseWriter.WriteHeader(status)
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	if cw.status == 0 {
		cw.status = http.StatusOK
	}
	n, err := cw.ResponseWriter.Write(p)
	cw.bytes += int64(n)
	return n, err
}

func (cw *countingWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }

var errSizeMismatch = errors.New("hosting: blob size does not match the manifest")

// blobError answers a failed blob read: 503 when storage is unavailable,
// 502 otherwise; the cause is logged, never shown.
func (x *exchange) blobError(f *file, vr *variant, err error) {
	if x.r.Context().Err() != nil {
		return
	}
	x.e.log.Error("hosting: reading blob", "key", vr.key, "path", f.path, "err", err)
	h := x.w.Header()
	for _, k := range [...]string{"Etag", "Content-Encoding", "Vary", "Cache-Control", "Content-Type", "Accept-Ranges"} {
		delete(h, k)
	}
	if errors.Is(err, assets.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		x.fail(errServiceUnavailable)
		return
	}
	x.fail(errBadGateway)
}

// requestEvent is the live log's request event of this exchange, as far
// as it went; start is when ServeHTTP began. The caller sets its outcome.
func (x *exchange) requestEvent(start time.Time) logstream.Event {
	end := x.e.now()
	return logstream.Event{
		Time:       end,
		Site:       x.v.usage.site,
		Kind:       logstream.KindRequest,
		Method:     x.r.Method,
		Path:       x.r.URL.Path,
		Status:     x.status,
		DurationMs: millisSince(start, end),
		BytesOut:   x.bytes,
	}
}

// millisSince is end-start in milliseconds for an event, or 0 when start
// was not read (nobody followed the site when the request began).
func millisSince(start, end time.Time) float64 {
	if start.IsZero() {
		return 0
	}
	return float64(end.Sub(start)) / float64(time.Millisecond)
}

// publishRequest publishes the request event of an exchange the worker
// did not answer; start is when ServeHTTP began.
func (x *exchange) publishRequest(start time.Time) {
	site := x.v.usage.site
	ev := x.requestEvent(start)
	ev.Outcome = x.outcome
	switch {
	case x.status == 0:
		ev.Outcome = logstream.OutcomeCanceled // the client left first
	case x.failed == errNotFound:
		ev.Outcome = logstream.OutcomeNotFound
	case x.failed == errMethodNotAllowed:
		ev.Outcome = logstream.OutcomeMethodNotAllowed
	case x.failed == errRateLimited:
		ev.Outcome = logstream.OutcomeRateLimited
	case x.failed != nil:
		ev.Outcome = logstream.OutcomeError
		ev.Message = x.failed.message + " (" + x.failed.code + ")"
	case ev.Outcome == "":
		ev.Outcome = logstream.OutcomeStatic
	}
	x.e.logs.Publish(site, ev)
}
