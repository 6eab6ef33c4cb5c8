package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tetratelabs/wazero/api"
)

// callKey is the context key under which host functions find their call.
type callKey struct{}

// call is the state of one guest invocation: the request being served, the
// response being built, the subrequest count and open response handles. Each
// instance owns one call, reset per request, and passes it to its host
// functions through the context given to the exported function (never
// through globals). During a reactor's _initialize there is no request.
type call struct {
	w    *Worker
	inst *instance
	ctx  context.Context // the request's context, for Host calls

	host Host
	hold *cpuHold // the request's hold on its tenant's CPU rate; nil: none
	// holdVal is the hold of a pooled instance's request (hold points
	// at it): one allocation fewer per request.
	holdVal cpuHold
	orig    *http.Request // the request as received
	req     *http.Request // the request as the guest sees and changes it; == orig until changed

	// request body
	reqBody      io.Reader // what read_body(0) reads
	reqRead      int64
	reqEOF       bool
	reqBuffered  bytes.Buffer // bytes read with buffer_request, replayed to next
	reqOverride  *bytes.Buffer
	reqTooLarge  bool
	reqBodyError error

	// response
	status int
	header http.Header
	// out is the response writer of a pooled instance's request (nil
	// otherwise): the guest's response headers go straight into its
	// header map (headerDirect), which writeBuffered then sends. A
	// failed invocation leaves them there for Serve's caller to clear
	// as it answers.
	out           http.ResponseWriter
	headerDirect  bool
	body          bytes.Buffer
	bodyRead      int  // read_body(1) offset
	bodyFromNext  bool // body holds next's response: the guest's first write_body(1) replaces it
	respTooLarge  bool
	headerBytes   int  // bytes of header names and values the guest set
	responseFinal bool // the response was already sent (next, unbuffered)
	bufferedNext  bool // next's response is held in status, header and body

	// pier imports
	subrequests  int
	subrefused   bool
	handles      map[int32]*handle
	nextHandle   int32
	handleBytes  int64
	guestLogSize int
	kv           kvState

	spareHeader http.Header // a response header map to reuse
	seen        []string    // send_response's names so far
}

// handle is a fetched or asset response, serialised in HTTP/1.1 wire format.
type handle struct {
	data []byte
	off  int
}

func (c *call) reset(r *http.Request, host Host) {
	c.ctx = r.Context()
	c.host = host
	c.hold = nil
	c.orig, c.req = r, r
	c.reqBody = r.Body
	c.reqRead, c.reqEOF = 0, r.Body == nil || r.Body == http.NoBody
	c.reqBuffered.Reset()
	c.reqOverride = nil
	c.reqTooLarge, c.reqBodyError = false, nil
	c.status = http.StatusOK
	c.header = nil
	c.out, c.headerDirect = nil, false
	c.body.Reset()
	c.bodyRead, c.bodyFromNext = 0, false
	c.respTooLarge, c.responseFinal, c.bufferedNext = false, false, false
	c.headerBytes = 0
	c.subrequests, c.subrefused = 0, false
	c.nextHandle, c.handleBytes = 0, 0
	c.guestLogSize = 0
	c.kv.reset(host)
	clear(c.handles)
}

// finish drops the references a finished request would otherwise keep
// alive in a pooled instance.
func (c *call) finish() {
	c.ctx = nil
	c.host = nil
	c.hold = nil
	c.kv.kv, c.kv.held = nil, nil
	c.orig, c.req, c.reqBody = nil, nil, nil
	c.header, c.out = nil, nil
	clear(c.handles)
	if c.body.Cap() > 1<<20 {
		c.body = bytes.Buffer{}
	}
	if c.reqBuffered.Cap() > 1<<20 {
		c.reqBuffered = bytes.Buffer{}
	}
}

// mutableRequest returns the request for changing, cloning the received one
// first so the caller's request is never modified.
func (c *call) mutableRequest() *http.Request {
	if c.req == c.orig {
		c.req = c.orig.Clone(c.orig.Context())
	}
	return c.req
}

// respHeader returns the response header map: the request's writer's
// own (headerDirect) for a pooled instance, else one of the call's,
// created or reused from an earlier request (whose values were copied to
// that request's response).
func (c *call) respHeader() http.Header {
	if c.header == nil && c.out != nil {
		c.header, c.headerDirect = c.out.Header(), true
	}
	if c.header == nil {
		if c.spareHeader == nil || len(c.spareHeader) > 64 {
			c.spareHeader = http.Header{}
		}
		clear(c.spareHeader)
		c.header = c.spareHeader
	}
	return c.header
}

// log sends one guest line to the site's log stream, or to the runtime's
// logger when there is no request (during _initialize).
func (c *call) log(line string) {
	const maxLine = 16 << 10
	const maxPerRequest = 1 << 20
	if len(line) > maxLine {
		line = line[:maxLine] + "…"
	}
	c.guestLogSize += len(line)
	if c.guestLogSize > maxPerRequest {
		return
	}
	if c.host == nil {
		c.w.rt.log.Debug("worker: guest output during start-up", "line", line)
		return
	}
	c.host.Log(line)
}

// readRequestBody reads up to len(p) bytes of the request body for the
// guest, pausing the CPU budget while it waits on the client.
func (c *call) readRequestBody(p []byte) (int, bool) {
	if c.reqEOF || c.reqBody == nil {
		return 0, true
	}
	if room := c.w.lim.MaxRequestBody + 1 - c.reqRead; int64(len(p)) > room {
		p = p[:room]
	}
	var n int
	var err error
	if _, inMemory := c.reqBody.(*bufferedBody); inMemory {
		n, err = c.reqBody.Read(p) // read ahead: no wait
	} else {
		done := c.inst.waitHost()
		n, err = c.reqBody.Read(p)
		done()
	}
	c.reqRead += int64(n)
	if c.reqRead > c.w.lim.MaxRequestBody {
		c.reqTooLarge = true
		panic(errRequestTooLarge)
	}
	if c.inst.features&featureBufferRequest != 0 {
		c.reqBuffered.Write(p[:n])
	}
	switch {
	case errors.Is(err, io.EOF):
		c.reqEOF = true
	case err != nil:
		c.reqBodyError = err
		panic(fmt.Errorf("worker: reading request body: %w", err))
	}
	return n, c.reqEOF
}

// nextBody is the request body the next handler reads.
func (c *call) nextBody() io.ReadCloser {
	switch {
	case c.reqOverride != nil:
		return io.NopCloser(bytes.NewReader(c.reqOverride.Bytes()))
	case c.reqBuffered.Len() > 0 && !c.reqEOF:
		return io.NopCloser(io.MultiReader(bytes.NewReader(c.reqBuffered.Bytes()), c.orig.Body))
	case c.reqBuffered.Len() > 0:
		return io.NopCloser(bytes.NewReader(c.reqBuffered.Bytes()))
	case c.reqEOF:
		return http.NoBody
	default:
		return c.orig.Body
	}
}

// writeResponseBody appends (or, the first time after next, replaces) the
// response body.
func (c *call) writeResponseBody(p []byte) {
	if c.responseFinal {
		return
	}
	if c.bodyFromNext {
		c.body.Reset()
		c.bodyRead = 0
		c.bodyFromNext = false
	}
	if int64(c.body.Len()+len(p)) > c.w.lim.MaxResponseBody {
		c.respTooLarge = true
		panic(errResponseBodyTooLarge)
	}
	c.body.Write(p)
}

var (
	errRequestTooLarge      = errors.New("worker: request body exceeds the limit")
	errResponseBodyTooLarge = errors.New("worker: response body exceeds the limit")
	errOutOfRange           = errors.New("worker: guest memory access out of range")
)

// callFrom returns the call a host function runs for.
func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		panic(errors.New("worker: host function called outside a request"))
	}
	return c
}

// mem returns guest bytes [ptr, ptr+n) (a view, not a copy).
func mem(mod api.Module, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(errOutOfRange)
	}
	return b
}

// writeIfFits writes v at buf when it fits in limit and returns len(v), the
// http-wasm convention for functions filling a buffer.
func writeIfFits(mod api.Module, buf, limit uint32, v string) uint32 {
	if uint32(len(v)) <= limit && len(v) > 0 {
		if !mod.Memory().WriteString(buf, v) {
			panic(errOutOfRange)
		}
	}
	return uint32(len(v))
}
