package pier

import (
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// handler holds the registered handler (a *http.Handler).
var handler atomic.Pointer[http.Handler]

// Handle registers h as the worker's handler: every request the edge
// dispatches to the worker is served by h, with a [net/http.Request] built
// from the host's request and an [net/http.ResponseWriter] that buffers the
// response and hands it to the host when h returns. Call it from an init
// function (main is not run in a -buildmode=c-shared build). A later call
// replaces the handler.
//
// A nil h means [net/http.DefaultServeMux], as in [net/http.ListenAndServe].
//
// A handler that wants the request to continue to the site's static assets
// calls [Next] instead of writing a response.
func Handle(h http.Handler) {
	if h == nil {
		h = http.DefaultServeMux
	}
	handler.Store(&h)
}

func registered() http.Handler {
	if h := handler.Load(); h != nil {
		return *h
	}
	return nil
}

// Next tells Pier that the handler does not answer this request: when the
// handler returns, the request continues to the site's static assets, with
// the method, URI and request headers as the handler left them on the
// [net/http.Request] (so a handler can rewrite /app/anything to
// /index.html, say). Changes are read from the Request the SDK passed to the
// handler, so they must be made on it or on a copy sharing its URL and
// Header (as [net/http.Request.WithContext] makes), not on a Clone.
// Anything written to w is discarded.
//
// w must be the ResponseWriter the SDK passed to the handler, or wrap it
// and provide an Unwrap() http.ResponseWriter method as
// [net/http.ResponseController] expects. Next panics otherwise.
func Next(w http.ResponseWriter) {
	for {
		switch rw := w.(type) {
		case *responseWriter:
			rw.next = true
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = rw.Unwrap()
		default:
			panic("pier: Next called with a ResponseWriter that does not come from the pier SDK")
		}
	}
}

// server serves requests through the ABI, one at a time, reusing its
// buffers and response writer from one request to the next.
type server struct {
	h       abi
	scratch scratch
	w       responseWriter
	orig    original
}

// serve runs one request through hd and returns handle_request's result:
// 0 when the response was written, 1 to continue to the static assets.
func (s *server) serve(hd http.Handler) (next uint64) {
	generation.Add(1)
	defer generation.Add(1) // responses fetched in this request expire
	h := s.h
	r := s.readRequest()
	w := &s.w
	w.reset() // cheap: it was reset when the previous request ended
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				logLines(h, "pier: panic serving "+r.Method+" "+r.RequestURI+": "+panicString(v)+"\n"+string(debug.Stack()))
			}
			w.reset()
			w.header.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			w.body = append(w.body, "Internal Server Error\n"...)
			w.emit(h)
			next = 0
		}
	}()
	if hd == nil {
		h.log("pier: no handler registered: call pier.Handle from an init function")
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	} else {
		hd.ServeHTTP(w, r)
	}
	if w.next {
		s.fallThrough(r)
		w.reset()
		return 1
	}
	w.emit(h)
	w.reset()
	return 0
}

// original is what the host sent, kept to find what the handler changed
// before falling through. Its slices are reused from request to request.
type original struct {
	method, uri, host string
	head              string // the header names and values as the host sent them

	// Parsed from head by parse, only when a request falls through.
	keys []string   // canonical header names, Host excluded
	vals [][]string // their values
}

// parse fills keys and vals from head.
func (o *original) parse() {
	o.keys, o.vals = o.keys[:0], o.vals[:0]
	for head := o.head; head != ""; {
		var name, value string
		name, head = cutNUL(head)
		value, head = cutNUL(head)
		key := textproto.CanonicalMIMEHeaderKey(name)
		if key == "Host" {
			continue
		}
		if i := slices.Index(o.keys, key); i >= 0 {
			o.vals[i] = append(o.vals[i], value)
			continue
		}
		o.keys = append(o.keys, key)
		o.vals = append(o.vals, []string{value})
	}
}

// header returns the original values of key and whether it was sent.
func (o *original) header(key string) ([]string, bool) {
	for i, k := range o.keys {
		if k == key {
			return o.vals[i], true
		}
	}
	return nil, false
}

// readRequest builds the request from the host's: method, URI, protocol,
// request headers, remote address and a body read lazily with read_body.
// The head arrives in one pier.request_head call as one string, which the
// method, URI, header names and values share; the header values share one
// array, so a request costs a handful of allocations.
func (s *server) readRequest() *http.Request {
	h := s.h
	head := s.scratch.readString(h.requestHead)
	method, head := cutNUL(head)
	uri, head := cutNUL(head)
	proto, head := cutNUL(head)
	remote, head := cutNUL(head)
	hasBody, head := cutNUL(head)
	headers := head
	// Host is not one of r.Header's (as in net/http): the map has room
	// for the others, and a request with no other header allocates none.
	pairs := strings.Count(head, "\x00") / 2
	header := make(http.Header, max(pairs-1, 0))
	var values []string
	if pairs > 1 {
		values = make([]string, pairs)
	}
	var host string
	hostSeen := false
	last, lastStart := "", -1
	for i := range pairs {
		var name, value string
		name, head = cutNUL(head)
		value, head = cutNUL(head)
		key := textproto.CanonicalMIMEHeaderKey(name)
		if key == "Host" {
			if !hostSeen {
				host, hostSeen = value, true
			}
			last, lastStart = "", -1
			continue
		}
		if values == nil {
			values = make([]string, pairs)
		}
		values[i] = value
		switch prev, seen := header[key]; {
		case key == last && lastStart >= 0:
			header[key] = values[lastStart : i+1 : i+1]
		case seen:
			header[key] = append(prev, value)
			lastStart = -1
		default:
			header[key] = values[i : i+1 : i+1]
			last, lastStart = key, i
		}
	}

	if method == "" {
		method = http.MethodGet
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}
	rq := new(request) // the Request and its URL in one allocation
	u, err := parseRequestURI(uri, &rq.url)
	if err != nil {
		u = &url.URL{Path: "/"}
		if i := strings.IndexByte(uri, '?'); i >= 0 {
			u.Path, u.RawQuery = uri[:i], uri[i+1:]
		} else if uri != "" {
			u.Path = uri
		}
	}
	if host == "" {
		host = u.Host
	}

	r := &rq.req
	*r = http.Request{
		Method:     method,
		URL:        u,
		Proto:      proto,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     header,
		Host:       host,
		RemoteAddr: remote,
		RequestURI: uri,
		Body:       http.NoBody,
	}
	if hasBody != "0" {
		// The host's server may have consumed the framing headers:
		// without a Content-Length the length is unknown and the body is
		// read until read_body reports eof.
		r.Body = &bodyReader{h: h}
		r.ContentLength = -1
		if cl := header["Content-Length"]; len(cl) > 0 {
			if n, err := strconv.ParseInt(strings.TrimSpace(cl[0]), 10, 64); err == nil && n >= 0 {
				r.ContentLength = n
			}
		}
		if r.ContentLength == 0 {
			r.Body = http.NoBody
		}
	}
	if te := header["Transfer-Encoding"]; len(te) > 0 {
		r.TransferEncoding = te
	}
	// r.Context() is context.Background(): the host gives the guest no
	// cancellation signal.
	s.orig = original{method: method, uri: uri, host: host, head: headers}
	return r
}

// request is a Request with room for its URL.
type request struct {
	req http.Request
	url url.URL
}

// parseRequestURI is [url.ParseRequestURI] with a shortcut for the common
// case, a path that needs no escaping and an optional query, which yields
// the same URL, which it fills in u.
func parseRequestURI(uri string, u *url.URL) (*url.URL, error) {
	if len(uri) == 0 || uri[0] != '/' {
		return url.ParseRequestURI(uri)
	}
	q := len(uri)
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		if c < 0x20 || c == 0x7f {
			return url.ParseRequestURI(uri) // an error
		}
		if q == len(uri) {
			if c == '?' {
				q = i
			} else if !plainPathByte[c] {
				return url.ParseRequestURI(uri)
			}
		}
	}
	*u = url.URL{Path: uri[:q]}
	if q < len(uri) {
		u.RawQuery = uri[q+1:]
		u.ForceQuery = u.RawQuery == ""
	}
	return u, nil
}

// plainPathByte holds the bytes a URL path keeps unescaped (net/url's
// shouldEscape for paths), '%' excluded.
var plainPathByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()

// cutNUL returns s up to its first NUL and the rest after it (all of s and
// "" without one).
//
// A plain loop, which the compiler inlines: compiled to WebAssembly, a
// call to strings.IndexByte costs more than scanning the short fields of
// a request head.
func cutNUL(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// fallThrough hands the handler's changes to the request back to the host
// before the request continues to the static assets.
func (s *server) fallThrough(r *http.Request) {
	orig := &s.orig
	orig.parse()
	h := s.h
	if r.Method != orig.method && r.Method != "" {
		h.setMethod(r.Method)
	}
	if uri := r.URL.RequestURI(); uri != orig.uri && r.URL.Path != "" {
		h.setURI(uri)
	}
	if r.Host != orig.host && r.Host != "" {
		h.setHeaderValue(kindRequest, "Host", r.Host)
	}
	for key, vals := range r.Header {
		if key == "Host" {
			continue
		}
		if ov, ok := orig.header(key); ok && slices.Equal(vals, ov) {
			continue
		}
		if len(vals) == 0 {
			h.removeHeader(kindRequest, key)
			continue
		}
		h.setHeaderValue(kindRequest, key, vals[0])
		for _, v := range vals[1:] {
			h.addHeaderValue(kindRequest, key, v)
		}
	}
	for _, key := range orig.keys {
		if _, ok := r.Header[key]; !ok {
			h.removeHeader(kindRequest, key)
		}
	}
}

// bodyReader reads the request body with read_body, on demand.
type bodyReader struct {
	h   abi
	eof bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	r := b.h.readBody(kindRequest, p)
	n := min(int(uint32(r)), len(p))
	if r>>32 != 0 {
		b.eof = true
		if n == 0 {
			return 0, io.EOF
		}
	}
	return n, nil
}

func (b *bodyReader) Close() error { return nil }

func panicString(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	return fmt.Sprint(v)
}
