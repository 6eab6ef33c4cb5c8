package pier

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
)

// fakeHost implements abi in memory with the semantics docs/workers.md and
// the http-wasm spec give the host side: buffer-filling calls return the
// full length and write nothing when it does not fit.
type fakeHost struct {
	method, uri, proto, addr string
	reqHeader                [][2]string // in order, repeated names allowed
	reqBody                  []byte
	bodyChunk                int  // read_body returns at most this many bytes; 0 = no limit
	bodyUnknown              bool // request_head reports a body even when reqBody is empty

	status    uint32
	respCalls []string // "set Name: v", "add Name: v", "body ..."
	respBody  []byte

	reqCalls []string // set_method, set_uri, request header changes

	logs []string
	vars map[string]string

	fetches   [][]byte
	fetchFunc func(req []byte) (wire []byte, code int32)
	assets    map[string]string // path -> wire response
	responses map[int32]*fakeResponse
	closed    []int32
	readChunk int // response_read returns at most this many bytes
	failAfter int // applied to the responses fetch opens
	nextID    int32

	calls map[string]int

	kv fakeKV
}

type fakeResponse struct {
	data      []byte
	failAfter int // response_read fails with -4 after this many bytes (0: never)
	sent      int
}

func newFakeHost() *fakeHost {
	return &fakeHost{method: "GET", uri: "/", proto: "HTTP/1.1", addr: "192.0.2.1:4321",
		responses: map[int32]*fakeResponse{}, calls: map[string]int{},
		kv: fakeKV{memKV: &memKV{m: map[string]map[string]memEntry{}}, bindings: []string{"STORE"}}}
}

func fill(buf []byte, s string) uint32 {
	if len(s) <= len(buf) {
		copy(buf, s)
	}
	return uint32(len(s))
}

// fillList fills buf with items, each NUL-terminated.
func fillList(buf []byte, items []string) uint32 {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it)
		b.WriteByte(0)
	}
	return fill(buf, b.String())
}

func (f *fakeHost) setMethod(m string) { f.reqCalls = append(f.reqCalls, "method "+m) }
func (f *fakeHost) setURI(uri string)  { f.reqCalls = append(f.reqCalls, "uri "+uri) }

func (f *fakeHost) setHeaderValue(kind uint32, name, value string) {
	if kind == kindResponse {
		f.respCalls = append(f.respCalls, "set "+name+": "+value)
		return
	}
	f.reqCalls = append(f.reqCalls, "set "+name+": "+value)
}

func (f *fakeHost) addHeaderValue(kind uint32, name, value string) {
	if kind == kindResponse {
		f.respCalls = append(f.respCalls, "add "+name+": "+value)
		return
	}
	f.reqCalls = append(f.reqCalls, "add "+name+": "+value)
}

func (f *fakeHost) removeHeader(kind uint32, name string) {
	f.reqCalls = append(f.reqCalls, "remove "+name)
}

func (f *fakeHost) readBody(kind uint32, buf []byte) uint64 {
	f.calls["read_body"]++
	n := len(buf)
	if f.bodyChunk > 0 && n > f.bodyChunk {
		n = f.bodyChunk
	}
	n = copy(buf[:n], f.reqBody)
	f.reqBody = f.reqBody[n:]
	var eof uint64
	if len(f.reqBody) == 0 {
		eof = 1
	}
	return eof<<32 | uint64(n)
}

func (f *fakeHost) writeBody(kind uint32, b []byte) {
	f.respCalls = append(f.respCalls, "body")
	f.respBody = append(f.respBody, b...)
}

func (f *fakeHost) setStatusCode(code uint32) { f.status = code }

// requestHead encodes the request as the host does: the header values of
// one name together, names in their first order of appearance.
func (f *fakeHost) requestHead(buf []byte) uint32 {
	f.calls["request_head"]++
	hasBody := "0"
	if len(f.reqBody) > 0 || f.bodyUnknown {
		hasBody = "1"
	}
	items := []string{f.method, f.uri, f.proto, f.addr, hasBody}
	var names []string
	for _, kv := range f.reqHeader {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, kv[0]) }) {
			names = append(names, kv[0])
		}
	}
	for _, n := range names {
		for _, kv := range f.reqHeader {
			if strings.EqualFold(kv[0], n) {
				items = append(items, n, kv[1])
			}
		}
	}
	return fillList(buf, items)
}

// sendResponse records the response as the equivalent http-wasm calls.
func (f *fakeHost) sendResponse(status uint32, head, body []byte) {
	f.setStatusCode(status)
	prev := ""
	for len(head) > 0 {
		i := bytes.IndexByte(head, 0)
		name := string(head[:i])
		head = head[i+1:]
		i = bytes.IndexByte(head, 0)
		value := string(head[:i])
		head = head[i+1:]
		if name == prev {
			f.addHeaderValue(kindResponse, name, value)
		} else {
			f.setHeaderValue(kindResponse, name, value)
		}
		prev = name
	}
	if len(body) > 0 {
		f.writeBody(kindResponse, body)
	}
}

func (f *fakeHost) log(msg string) { f.logs = append(f.logs, msg) }

func (f *fakeHost) getVar(name string, buf []byte) int32 {
	v, ok := f.vars[name]
	if !ok {
		return -1
	}
	return int32(fill(buf, v))
}

func (f *fakeHost) open(wire []byte) int32 {
	f.nextID++
	f.responses[f.nextID] = &fakeResponse{data: wire}
	return f.nextID
}

func (f *fakeHost) fetch(req []byte) int32 {
	f.fetches = append(f.fetches, bytes.Clone(req))
	wire, code := f.fetchFunc(req)
	if code < 0 {
		return code
	}
	h := f.open(wire)
	f.responses[h].failAfter = f.failAfter
	return h
}

func (f *fakeHost) asset(path string) int32 {
	wire, ok := f.assets[path]
	if !ok {
		return -6
	}
	return f.open([]byte(wire))
}

func (f *fakeHost) responseRead(h int32, buf []byte) int32 {
	r, ok := f.responses[h]
	if !ok {
		return -5
	}
	n := len(buf)
	if f.readChunk > 0 && n > f.readChunk {
		n = f.readChunk
	}
	if r.failAfter > 0 {
		if r.sent >= r.failAfter {
			return -4
		}
		n = min(n, r.failAfter-r.sent)
	}
	n = copy(buf[:n], r.data)
	r.data = r.data[n:]
	r.sent += n
	return int32(n)
}

func (f *fakeHost) responseClose(h int32) {
	f.closed = append(f.closed, h)
	delete(f.responses, h)
}

// serveWith runs one request through hd on f.
func serveWith(f *fakeHost, hd http.Handler) uint64 {
	s := server{h: f}
	return s.serve(hd)
}

// fakeKV is the host's KV side: memKV (the SDK's own, outside the host)
// plus what only the host does: bindings, the op limit and its repeat
// rule, and a hook run before each compare-and-swap.
type fakeKV struct {
	*memKV
	bindings  []string
	limit     int // ops per request; 0: no limit
	ops       int
	held      string // binding and key of a get whose value did not fit
	beforeCAS func()
}

func (f *fakeKV) admit(binding string) int32 {
	f.held = ""
	if f.limit > 0 && f.ops >= f.limit {
		return -7
	}
	f.ops++
	if !slices.Contains(f.bindings, binding) {
		return -10
	}
	return 0
}

func (f *fakeHost) kvGet(binding, key string, buf []byte) int32 {
	if f.kv.held != binding+"\x00"+key {
		if n := f.kv.admit(binding); n < 0 {
			return n
		}
	}
	n := f.kv.memKV.kvGet(binding, key, buf)
	f.kv.held = ""
	if int(n) > len(buf) {
		f.kv.held = binding + "\x00" + key
	}
	return n
}

func (f *fakeHost) kvPut(binding, key string, value []byte, ttl int64) int32 {
	if n := f.kv.admit(binding); n < 0 {
		return n
	}
	return f.kv.memKV.kvPut(binding, key, value, ttl)
}

func (f *fakeHost) kvDelete(binding, key string) int32 {
	if n := f.kv.admit(binding); n < 0 {
		return n
	}
	return f.kv.memKV.kvDelete(binding, key)
}

func (f *fakeHost) kvList(binding, prefix, cursor string, limit int32, buf []byte) int32 {
	if n := f.kv.admit(binding); n < 0 {
		return n
	}
	return f.kv.memKV.kvList(binding, prefix, cursor, limit, buf)
}

func (f *fakeHost) kvCAS(binding, key string, old []byte, oldExists bool, value []byte, ttl int64) int32 {
	if n := f.kv.admit(binding); n < 0 {
		return n
	}
	if f.kv.beforeCAS != nil {
		f.kv.beforeCAS()
	}
	return f.kv.memKV.kvCAS(binding, key, old, oldExists, value, ttl)
}

var _ abi = (*fakeHost)(nil)
