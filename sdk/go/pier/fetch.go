package pier

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// Transport is an [net/http.RoundTripper] that sends requests through the
// host's fetch: the host dials (after checking the destination against the
// egress policy), applies its timeouts and size cap, and counts the request
// against the plan's subrequest limit. Importing this package installs it
// as [net/http.DefaultTransport], so [net/http.Get] and
// [net/http.DefaultClient] use it.
//
// Refusals come back as errors to test with [errors.Is]:
// [ErrSubrequestLimit], [ErrEgressDenied], [ErrNetwork],
// [ErrResponseTooLarge] and [ErrInvalidRequest].
//
// # Notes
//
//   - The host performs the call synchronously: a request's context is
//     checked before the call, but cannot cancel it midway; the host's own
//     timeouts apply.
//   - A request body of unknown length is read into memory first, since
//     the host needs a Content-Length.
//   - The response body is streamed from the host and belongs to the
//     request being served: close it (the host releases it when the request
//     ends in any case); reading it after that fails.
type Transport struct{}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip implements [net/http.RoundTripper].
func (*Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return roundTrip(hostABI(), req)
}

func roundTrip(h abi, req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if h == nil {
		closeBody()
		return nil, ErrNoHost
	}
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		closeBody()
		return nil, ErrInvalidRequest
	}
	if err := req.Context().Err(); err != nil {
		closeBody()
		return nil, err
	}
	wire, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	handle := h.fetch(wire)
	if handle <= 0 {
		return nil, hostError(handle)
	}
	return readResponse(h, handle, req)
}

// encodeRequest writes req in HTTP/1.1 wire format with the absolute URL
// in the request line and the body framed by Content-Length, as the host's
// fetch expects. It consumes and closes req's body but does not otherwise
// change req.
func encodeRequest(req *http.Request) ([]byte, error) {
	out := req
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0 {
		// Unknown length (or a body despite a zero length): buffer it so
		// WriteProxy frames it with Content-Length instead of chunking.
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		out = new(http.Request)
		*out = *req
		out.ContentLength = int64(len(body))
		out.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) == 0 {
			out.Body = nil
		}
		out.TransferEncoding = nil
	}
	var buf bytes.Buffer
	if err := out.WriteProxy(&buf); err != nil {
		if out.Body != nil {
			out.Body.Close()
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// readResponse parses the response behind handle; its body reads from the
// host on demand and releases the handle when closed or fully read.
func readResponse(h abi, handle int32, req *http.Request) (*http.Response, error) {
	hr := &handleReader{h: h, handle: handle, gen: generation.Load()}
	resp, err := http.ReadResponse(bufio.NewReader(hr), req)
	if err != nil {
		hr.Close()
		if hr.err != nil {
			// bufio drops an error that ends a partial line: report the
			// host's, not the parse error it leads to.
			return nil, hr.err
		}
		return nil, err
	}
	resp.Body = &responseBody{ReadCloser: resp.Body, hr: hr}
	return resp, nil
}

// generation counts the requests served: a handle belongs to the request
// during which it was opened, and the host releases (and reuses) it when
// that request ends.
var generation atomic.Uint64

// errExpired is what reading a response body kept past its request gives.
var errExpired = errors.New("pier: response body read after the request that fetched it ended")

// handleReader reads the wire-format response behind a handle.
type handleReader struct {
	h      abi
	handle int32
	gen    uint64
	once   sync.Once
	done   bool
	err    error // the host's error, once response_read failed
}

func (r *handleReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.gen != generation.Load() {
		r.err = errExpired
		return 0, r.err
	}
	n := r.h.responseRead(r.handle, p)
	switch {
	case n < 0:
		r.err = hostError(n)
		return 0, r.err
	case n == 0:
		r.done = true
		return 0, io.EOF
	}
	return min(int(n), len(p)), nil
}

func (r *handleReader) Close() error {
	r.once.Do(func() {
		r.done = true
		if r.gen == generation.Load() {
			r.h.responseClose(r.handle)
		}
	})
	return nil
}

// responseBody releases the host handle when the body is closed.
type responseBody struct {
	io.ReadCloser
	hr *handleReader
}

func (b *responseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.hr.err != nil {
		err = b.hr.err
	}
	return n, err
}

func (b *responseBody) Close() error {
	err := b.ReadCloser.Close()
	b.hr.Close()
	return err
}

// Asset returns the deployment's own static asset at path, as the edge
// would serve it (status, headers from _headers, body), without a
// subrequest. A missing asset is [ErrNotFound]. Close the body.
func Asset(path string) (*http.Response, error) {
	return asset(hostABI(), path)
}

func asset(h abi, path string) (*http.Response, error) {
	if h == nil {
		return nil, ErrNoHost
	}
	handle := h.asset(path)
	if handle <= 0 {
		return nil, hostError(handle)
	}
	req, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		req = &http.Request{Method: http.MethodGet}
	}
	return readResponse(h, handle, req)
}
