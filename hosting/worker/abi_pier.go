package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"golang.org/x/net/http/httpguts"
)

// Pier's own imports (docs/workers.md §2).
const pierModuleName = "pier"

// Negative results of pier.fetch and pier.asset (and of the kv_*
// functions: abi_kv.go).
const (
	errnoSubrequestLimit  = -1
	errnoEgressDenied     = -2
	errnoNetwork          = -3
	errnoResponseTooLarge = -4
	errnoInvalidRequest   = -5
	errnoNotFound         = -6
)

func pierModule(rt wazero.Runtime) wazero.HostModuleBuilder {
	b := rt.NewHostModuleBuilder(pierModuleName)
	def := func(name string, fn api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	def("log", pierLog, []api.ValueType{i32, i32}, nil)
	def("get_var", pierGetVar, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	def("fetch", pierFetch, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def("asset", pierAsset, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def("response_read", pierResponseRead, []api.ValueType{i32, i32, i32}, []api.ValueType{i32})
	def("response_close", pierResponseClose, []api.ValueType{i32}, nil)
	def("request_head", pierRequestHead, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def("send_response", pierSendResponse, []api.ValueType{i32, i32, i32, i32, i32}, nil)
	kvModule(def)
	return b
}

// pierRequestHead writes the request head in one call: the method, URI,
// protocol and source address as get_method, get_uri,
// get_protocol_version and get_source_addr return them, "0" if the request
// has no body (else "1"), then a name and a value for each request header
// value (the Host header included, as get_header_values gives it), each
// NUL-terminated. It returns the length and writes nothing when that
// exceeds buf_limit.
func pierRequestHead(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	r := c.req
	if r == nil {
		result(stack, 0)
		return
	}
	uri := r.URL.RequestURI()
	body := "1"
	if c.reqEOF {
		body = "0"
	}
	host := ""
	if r.Host != "" && r.Header["Host"] == nil {
		host = r.Host
	}
	n := len(r.Method) + len(uri) + len(r.Proto) + len(r.RemoteAddr) + len(body) + 5
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 2
		}
	}
	if host != "" {
		n += len("Host") + len(host) + 2
	}
	if n <= int(uint32(stack[1])) {
		b, ok := mod.Memory().Read(uint32(stack[0]), uint32(n))
		if !ok {
			panic(errOutOfRange)
		}
		off := 0
		put := func(s string) {
			off += copy(b[off:], s)
			b[off] = 0
			off++
		}
		put(r.Method)
		put(uri)
		put(r.Proto)
		put(r.RemoteAddr)
		put(body)
		for k, vs := range r.Header {
			for _, v := range vs {
				put(k)
				put(v)
			}
		}
		if host != "" {
			put("Host")
			put(host)
		}
	}
	result(stack, int32(n))
}

// pierSendResponse(status, head, head_len, body, body_len) does what
// set_status_code(status), then for each name and value in head (each
// NUL-terminated) add_header_value(1, name, value) after removing the
// name's earlier values where it first appears in head, then
// write_body(1, body) would do, in one call.
func pierSendResponse(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	code := int32(stack[0])
	if code < 200 || code > 599 {
		panic(fmt.Errorf("worker: send_response: invalid status %d", code))
	}
	head := mem(mod, uint32(stack[1]), uint32(stack[2]))
	body := mem(mod, uint32(stack[3]), uint32(stack[4]))
	if c.responseFinal {
		return
	}
	c.status = int(code)
	pairs := bytes.Count(head, []byte{0}) / 2
	if pairs > 0 {
		h := c.respHeader()
		values := make([]string, pairs)
		seen := c.seen[:0]
		for i := range pairs {
			var name, value []byte
			name, head, _ = bytes.Cut(head, []byte{0})
			value, head, _ = bytes.Cut(head, []byte{0})
			k, v := c.inst.headerName(name), c.inst.headerValue(value)
			chargeHeader(c, k, v)
			values[i] = v
			if !slices.Contains(seen, k) {
				seen = append(seen, k)
				h[k] = values[i : i+1 : i+1]
			} else {
				h[k] = append(h[k], v)
			}
		}
		clear(seen)
		c.seen = seen[:0]
	}
	if len(body) > 0 {
		c.writeResponseBody(body)
	}
}

// maxInterned bounds an instance's interned header names and values, and
// the length of each.
const (
	maxInterned    = 64
	maxInternedLen = 128
)

// headerName validates and canonicalises a response header name from
// guest memory, reusing the string of an earlier request for a name seen
// before.
func (in *instance) headerName(b []byte) string {
	if s, ok := in.names[string(b)]; ok {
		return s
	}
	name := string(b)
	if !httpguts.ValidHeaderFieldName(name) {
		panic(fmt.Errorf("worker: invalid header name %q", name))
	}
	canon := http.CanonicalHeaderKey(name)
	if len(in.names) < maxInterned && len(name) <= maxInternedLen {
		if in.names == nil {
			in.names = map[string]string{}
		}
		in.names[name] = canon
	}
	return canon
}

// headerValue validates a response header value from guest memory, reusing
// the string of an earlier request for a value seen before.
func (in *instance) headerValue(b []byte) string {
	if s, ok := in.values[string(b)]; ok {
		return s
	}
	v := string(b)
	if !httpguts.ValidHeaderFieldValue(v) {
		panic(fmt.Errorf("worker: invalid header value %q", v))
	}
	if len(in.values) < maxInterned && len(v) <= maxInternedLen {
		if in.values == nil {
			in.values = map[string]string{}
		}
		in.values[v] = v
	}
	return v
}

func pierLog(ctx context.Context, mod api.Module, stack []uint64) {
	callFrom(ctx).log(string(mem(mod, uint32(stack[0]), uint32(stack[1]))))
}

func pierGetVar(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	name := mem(mod, uint32(stack[0]), uint32(stack[1]))
	v, ok := c.getVar(string(name))
	if !ok {
		result(stack, -1)
		return
	}
	stack[0] = uint64(writeIfFits(mod, uint32(stack[2]), uint32(stack[3]), v))
}

func result(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

func pierFetch(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c.host == nil {
		result(stack, errnoInvalidRequest)
		return
	}
	raw := mem(mod, uint32(stack[0]), uint32(stack[1]))
	if c.subrequests >= c.w.lim.SubRequests {
		c.subrequests++
		c.subrefused = true
		result(stack, errnoSubrequestLimit)
		return
	}
	req, err := parseFetchRequest(c.ctx, raw, c.w.lim.MaxRequestBody)
	if err != nil {
		result(stack, errnoInvalidRequest)
		return
	}
	c.subrequests++
	defer c.inst.waitHost()()
	resp, err := c.host.Fetch(c.ctx, req)
	if err != nil {
		switch {
		case errors.Is(err, ErrEgressDenied):
			result(stack, errnoEgressDenied)
		case errors.Is(err, ErrResponseTooLarge):
			result(stack, errnoResponseTooLarge)
		default:
			result(stack, errnoNetwork)
		}
		return
	}
	result(stack, c.openHandle(resp, errnoNetwork))
}

func pierAsset(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c.host == nil {
		result(stack, errnoNotFound)
		return
	}
	path := string(mem(mod, uint32(stack[0]), uint32(stack[1])))
	if len(path) == 0 || path[0] != '/' {
		result(stack, errnoInvalidRequest)
		return
	}
	defer c.inst.waitHost()()
	resp, err := c.host.Asset(c.ctx, path)
	if err != nil {
		if errors.Is(err, ErrAssetNotFound) {
			result(stack, errnoNotFound)
		} else {
			result(stack, errnoNetwork)
		}
		return
	}
	result(stack, c.openHandle(resp, errnoNetwork))
}

// openHandle reads and serialises resp (closing its body) into a new handle
// and returns the handle or a negative error: the bytes held for the guest
// across open handles are bounded by Limits.MaxResponseBody.
func (c *call) openHandle(resp *http.Response, readErr int32) int32 {
	defer resp.Body.Close()
	room := c.w.lim.MaxResponseBody - c.handleBytes
	body, err := io.ReadAll(io.LimitReader(resp.Body, room+1))
	if err != nil {
		if errors.Is(err, ErrResponseTooLarge) {
			return errnoResponseTooLarge
		}
		return readErr
	}
	if int64(len(body)) > room {
		return errnoResponseTooLarge
	}
	data := serializeResponse(resp, body)
	if c.handles == nil {
		c.handles = map[int32]*handle{}
	}
	c.nextHandle++
	c.handles[c.nextHandle] = &handle{data: data}
	c.handleBytes += int64(len(data))
	return c.nextHandle
}

// serializeResponse writes resp in HTTP/1.1 wire format, its body framed by
// Content-Length.
func serializeResponse(resp *http.Response, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(body) + 512)
	code := resp.StatusCode
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	fmt.Fprintf(&b, "HTTP/1.1 %03d %s\r\n", code, text)
	h := resp.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Del("Transfer-Encoding")
	h.Del("Trailer")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// parseFetchRequest parses the guest's HTTP/1.1 request: an absolute http(s)
// URL in the request line, a body framed by Content-Length.
func parseFetchRequest(ctx context.Context, raw []byte, maxBody int64) (*http.Request, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("worker: parsing fetch request: %w", err)
	}
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		return nil, errors.New("worker: fetch request URL is not absolute http(s)")
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("worker: reading fetch request body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return nil, errors.New("worker: fetch request body too large")
	}
	req.RequestURI = ""
	req.Close = false
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
		req.GetBody = nil
	} else {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req.WithContext(ctx), nil
}

func pierResponseRead(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	h := c.handles[int32(stack[0])]
	if h == nil {
		result(stack, 0)
		return
	}
	n := min(len(h.data)-h.off, int(uint32(stack[2])))
	if n > 0 && !mod.Memory().Write(uint32(stack[1]), h.data[h.off:h.off+n]) {
		panic(errOutOfRange)
	}
	h.off += n
	result(stack, int32(n))
}

func pierResponseClose(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	id := int32(stack[0])
	if h := c.handles[id]; h != nil {
		c.handleBytes -= int64(len(h.data))
		delete(c.handles, id)
	}
}
