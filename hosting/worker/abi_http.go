package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"golang.org/x/net/http/httpguts"
)

// The http-wasm handler ABI (https://http-wasm.io/http-handler-abi/), host
// side. Names, signatures and semantics follow the specification.
const httpHandlerModuleName = "http_handler"

// http-wasm header and body kinds.
const (
	kindRequest          = 0
	kindResponse         = 1
	kindRequestTrailers  = 2
	kindResponseTrailers = 3
)

// http-wasm features.
const (
	featureBufferRequest  = 1
	featureBufferResponse = 2
	featureTrailers       = 4 // not supported
)

// http-wasm log levels.
const logLevelNone = 3

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

func httpHandlerModule(rt wazero.Runtime) wazero.HostModuleBuilder {
	b := rt.NewHostModuleBuilder(httpHandlerModuleName)
	def := func(name string, fn api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	def("enable_features", enableFeatures, []api.ValueType{i32}, []api.ValueType{i32})
	def("get_config", getConfig, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def("log", logHTTP, []api.ValueType{i32, i32, i32}, nil)
	def("log_enabled", logEnabled, []api.ValueType{i32}, []api.ValueType{i32})
	def("get_method", getMethod, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def("set_method", setMethod, []api.ValueType{i32, i32}, nil)
	def("get_uri", getURI, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def("set_uri", setURI, []api.ValueType{i32, i32}, nil)
	def("get_protocol_version", getProtocolVersion, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def("add_header_value", addHeaderValue, []api.ValueType{i32, i32, i32, i32, i32}, nil)
	def("set_header_value", setHeaderValue, []api.ValueType{i32, i32, i32, i32, i32}, nil)
	def("remove_header", removeHeader, []api.ValueType{i32, i32, i32}, nil)
	def("get_header_names", getHeaderNames, []api.ValueType{i32, i32, i32}, []api.ValueType{i64})
	def("get_header_values", getHeaderValues, []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64})
	def("read_body", readBody, []api.ValueType{i32, i32, i32}, []api.ValueType{i64})
	def("write_body", writeBody, []api.ValueType{i32, i32, i32}, nil)
	def("get_status_code", getStatusCode, nil, []api.ValueType{i32})
	def("set_status_code", setStatusCode, []api.ValueType{i32}, nil)
	def("get_source_addr", getSourceAddr, []api.ValueType{i32, i32}, []api.ValueType{i32})
	return b
}

func enableFeatures(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	c.inst.features |= uint32(stack[0]) & (featureBufferRequest | featureBufferResponse)
	stack[0] = uint64(c.inst.features)
}

func getConfig(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	stack[0] = uint64(writeIfFits(mod, uint32(stack[0]), uint32(stack[1]), c.configJSON()))
}

func logHTTP(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	if int32(stack[0]) >= logLevelNone {
		return
	}
	c.log(string(mem(mod, uint32(stack[1]), uint32(stack[2]))))
}

func logEnabled(_ context.Context, _ api.Module, stack []uint64) {
	if int32(stack[0]) < logLevelNone {
		stack[0] = 1
	} else {
		stack[0] = 0
	}
}

// requestString is a request property, "" outside a request.
func requestString(ctx context.Context, get func(*http.Request) string) string {
	c := callFrom(ctx)
	if c.req == nil {
		return ""
	}
	return get(c.req)
}

func getMethod(ctx context.Context, mod api.Module, stack []uint64) {
	v := requestString(ctx, func(r *http.Request) string { return r.Method })
	stack[0] = uint64(writeIfFits(mod, uint32(stack[0]), uint32(stack[1]), v))
}

func setMethod(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	v := string(mem(mod, uint32(stack[0]), uint32(stack[1])))
	if !validMethod(v) {
		panic(fmt.Errorf("worker: set_method: invalid method %q", v))
	}
	if c.req != nil {
		c.mutableRequest().Method = v
	}
}

func validMethod(m string) bool {
	return m != "" && !strings.ContainsFunc(m, func(r rune) bool { return !httpguts.IsTokenRune(r) })
}

func getURI(ctx context.Context, mod api.Module, stack []uint64) {
	v := requestString(ctx, func(r *http.Request) string { return r.URL.RequestURI() })
	stack[0] = uint64(writeIfFits(mod, uint32(stack[0]), uint32(stack[1]), v))
}

func setURI(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	v := string(mem(mod, uint32(stack[0]), uint32(stack[1])))
	u, err := url.ParseRequestURI(v)
	if err != nil || !strings.HasPrefix(v, "/") {
		panic(fmt.Errorf("worker: set_uri: invalid URI %q", v))
	}
	if c.req == nil {
		return
	}
	r := c.mutableRequest()
	nu := *r.URL
	nu.Path, nu.RawPath, nu.RawQuery = u.Path, u.RawPath, u.RawQuery
	r.URL = &nu
	r.RequestURI = v
}

func getProtocolVersion(ctx context.Context, mod api.Module, stack []uint64) {
	v := requestString(ctx, func(r *http.Request) string { return r.Proto })
	stack[0] = uint64(writeIfFits(mod, uint32(stack[0]), uint32(stack[1]), v))
}

func getSourceAddr(ctx context.Context, mod api.Module, stack []uint64) {
	v := requestString(ctx, func(r *http.Request) string { return r.RemoteAddr })
	stack[0] = uint64(writeIfFits(mod, uint32(stack[0]), uint32(stack[1]), v))
}

func getStatusCode(ctx context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(uint32(callFrom(ctx).status))
}

func setStatusCode(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	code := int32(stack[0])
	if code < 200 || code > 599 { // no informational responses

		panic(fmt.Errorf("worker: set_status_code: invalid status %d", code))
	}
	if !c.responseFinal {
		c.status = int(code)
	}
}

// headerName reads, validates and canonicalises a header name from guest
// memory (interned per instance).
func headerName(c *call, mod api.Module, ptr, n uint64) string {
	return c.inst.headerName(mem(mod, uint32(ptr), uint32(n)))
}

// headerAccess returns the headers of kind for reading (nil for trailers or
// outside a request) and panics on an unknown kind.
func headerAccess(c *call, kind uint32) http.Header {
	switch kind {
	case kindRequest:
		if c.req == nil {
			return nil
		}
		return c.req.Header
	case kindResponse:
		return c.header
	case kindRequestTrailers, kindResponseTrailers:
		return nil
	}
	panic(fmt.Errorf("worker: unknown header kind %d", kind))
}

// changeHeader applies f to the headers of kind, ignoring trailers and a
// response already sent. The request's Host header is its Host field.
func changeHeader(c *call, kind uint32, name string, f func(h http.Header), host func(r *http.Request)) {
	switch kind {
	case kindRequest:
		if c.req == nil {
			return
		}
		r := c.mutableRequest()
		if name == "Host" {
			host(r)
			return
		}
		if r.Header == nil {
			r.Header = http.Header{}
		}
		f(r.Header)
	case kindResponse:
		if c.responseFinal {
			return
		}
		f(c.respHeader())
	case kindRequestTrailers, kindResponseTrailers:
	default:
		panic(fmt.Errorf("worker: unknown header kind %d", kind))
	}
}

// maxHeaderBytes bounds the header names and values a guest may set per
// request, so a loop of add_header_value cannot exhaust the host's memory.
const maxHeaderBytes = 1 << 20

// chargeHeader counts a header the guest sets, trapping past maxHeaderBytes.
func chargeHeader(c *call, name, value string) {
	c.headerBytes += len(name) + len(value)
	if c.headerBytes > maxHeaderBytes {
		panic(errors.New("worker: the guest set more than 1 MiB of headers"))
	}
}

// headerValue reads and validates a header value from guest memory
// (interned per instance).
func headerValue(c *call, mod api.Module, ptr, n uint64) string {
	return c.inst.headerValue(mem(mod, uint32(ptr), uint32(n)))
}

func addHeaderValue(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	name := headerName(c, mod, stack[1], stack[2])
	v := headerValue(c, mod, stack[3], stack[4])
	chargeHeader(c, name, v)
	changeHeader(c, uint32(stack[0]), name,
		func(h http.Header) { h[name] = append(h[name], v) },
		func(r *http.Request) { r.Host = v })
}

func setHeaderValue(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	name := headerName(c, mod, stack[1], stack[2])
	v := headerValue(c, mod, stack[3], stack[4])
	chargeHeader(c, name, v)
	changeHeader(c, uint32(stack[0]), name,
		func(h http.Header) { h[name] = []string{v} },
		func(r *http.Request) { r.Host = v })
}

func removeHeader(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	name := headerName(c, mod, stack[1], stack[2])
	changeHeader(c, uint32(stack[0]), name,
		func(h http.Header) { delete(h, name) },
		func(r *http.Request) { r.Host = "" })
}

// writeNULList writes values NUL-terminated when they fit and returns
// count<<32 | len.
func writeNULList(mod api.Module, buf, limit uint32, values []string) uint64 {
	n := 0
	for _, v := range values {
		n += len(v) + 1
	}
	if n > 0 && uint32(n) <= limit {
		b, ok := mod.Memory().Read(buf, uint32(n))
		if !ok {
			panic(errOutOfRange)
		}
		off := 0
		for _, v := range values {
			off += copy(b[off:], v)
			b[off] = 0
			off++
		}
	}
	return uint64(len(values))<<32 | uint64(uint32(n))
}

func getHeaderNames(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	kind := uint32(stack[0])
	h := headerAccess(c, kind)
	names := slices.Sorted(maps.Keys(h))
	if kind == kindRequest && c.req != nil && c.req.Host != "" && h["Host"] == nil {
		names = append(names, "Host")
	}
	stack[0] = writeNULList(mod, uint32(stack[1]), uint32(stack[2]), names)
}

func getHeaderValues(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	kind := uint32(stack[0])
	h := headerAccess(c, kind)
	name := headerName(c, mod, stack[1], stack[2])
	values := h[name]
	if kind == kindRequest && name == "Host" && c.req != nil && c.req.Host != "" && values == nil {
		values = []string{c.req.Host}
	}
	stack[0] = writeNULList(mod, uint32(stack[3]), uint32(stack[4]), values)
}

func readBody(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	buf, limit := uint32(stack[1]), uint32(stack[2])
	var n int
	var eof bool
	switch uint32(stack[0]) {
	case kindRequest:
		if c.req == nil {
			eof = true
			break
		}
		if limit == 0 {
			eof = c.reqEOF
			break
		}
		n, eof = c.readRequestBody(mem(mod, buf, limit))
	case kindResponse:
		rest := c.body.Bytes()[c.bodyRead:]
		n = min(len(rest), int(limit))
		if n > 0 && !mod.Memory().Write(buf, rest[:n]) {
			panic(errOutOfRange)
		}
		c.bodyRead += n
		eof = c.bodyRead == c.body.Len()
	default:
		panic(fmt.Errorf("worker: read_body: unsupported body kind %d", uint32(stack[0])))
	}
	var e uint64
	if eof {
		e = 1 << 32
	}
	stack[0] = e | uint64(uint32(n))
}

func writeBody(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	p := mem(mod, uint32(stack[1]), uint32(stack[2]))
	switch uint32(stack[0]) {
	case kindRequest:
		if c.req == nil {
			return
		}
		if c.reqOverride == nil {
			c.reqOverride = &bytes.Buffer{}
		}
		if int64(c.reqOverride.Len()+len(p)) > c.w.lim.MaxRequestBody {
			panic(errors.New("worker: write_body: request body exceeds the limit"))
		}
		c.reqOverride.Write(p)
	case kindResponse:
		c.writeResponseBody(p)
	default:
		panic(fmt.Errorf("worker: write_body: unsupported body kind %d", uint32(stack[0])))
	}
}
