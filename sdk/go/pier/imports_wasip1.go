//go:build wasip1

package pier

import "unsafe"

// theHost is the host behind the module's imports.
var theHost abi = wasmHost{}

// srv serves every request of this instance; the host never calls
// handle_request concurrently.
var srv = server{h: wasmHost{}}

// handleRequest is the http-wasm entry point: it serves one request with
// the handler registered by [Handle] and returns ctx<<32 | next, with
// ctx 0 and next 1 when the handler called [Next].
//
//go:wasmexport handle_request
//lint:ignore U1000 called by the host (go:wasmexport), which staticcheck does not see
func handleRequest() uint64 {
	return srv.serve(registered())
}

// handleResponse is called after a request that fell through to the static
// assets was answered; the SDK has nothing to do then.
//
//go:wasmexport handle_response
//lint:ignore U1000 called by the host (go:wasmexport), which staticcheck does not see
func handleResponse(reqCtx int32, isError int32) {}

// wasmHost implements abi with the module's imports.
type wasmHost struct{}

func ptr(b []byte) unsafe.Pointer       { return unsafe.Pointer(unsafe.SliceData(b)) }
func sptr(s string) unsafe.Pointer      { return unsafe.Pointer(unsafe.StringData(s)) }
func size[T []byte | string](v T) int32 { return int32(len(v)) }

func (wasmHost) setMethod(m string) { hSetMethod(sptr(m), size(m)) }
func (wasmHost) setURI(uri string)  { hSetURI(sptr(uri), size(uri)) }
func (wasmHost) setHeaderValue(kind uint32, name, value string) {
	hSetHeaderValue(int32(kind), sptr(name), size(name), sptr(value), size(value))
}
func (wasmHost) addHeaderValue(kind uint32, name, value string) {
	hAddHeaderValue(int32(kind), sptr(name), size(name), sptr(value), size(value))
}
func (wasmHost) removeHeader(kind uint32, name string) {
	hRemoveHeader(int32(kind), sptr(name), size(name))
}
func (wasmHost) readBody(kind uint32, buf []byte) uint64 {
	return uint64(hReadBody(int32(kind), ptr(buf), size(buf)))
}

func (wasmHost) requestHead(buf []byte) uint32 { return uint32(pRequestHead(ptr(buf), size(buf))) }
func (wasmHost) sendResponse(status uint32, head, body []byte) {
	pSendResponse(int32(status), ptr(head), size(head), ptr(body), size(body))
}

func (wasmHost) log(msg string) { pLog(sptr(msg), size(msg)) }
func (wasmHost) getVar(name string, buf []byte) int32 {
	return pGetVar(sptr(name), size(name), ptr(buf), size(buf))
}
func (wasmHost) fetch(req []byte) int32  { return pFetch(ptr(req), size(req)) }
func (wasmHost) asset(path string) int32 { return pAsset(sptr(path), size(path)) }
func (wasmHost) responseClose(h int32)   { pResponseClose(h) }
func (wasmHost) responseRead(h int32, buf []byte) int32 {
	return pResponseRead(h, ptr(buf), size(buf))
}

func (wasmHost) kvGet(binding, key string, buf []byte) int32 {
	return pKVGet(sptr(binding), size(binding), sptr(key), size(key), ptr(buf), size(buf))
}
func (wasmHost) kvPut(binding, key string, value []byte, ttl int64) int32 {
	return pKVPut(sptr(binding), size(binding), sptr(key), size(key), ptr(value), size(value), ttl)
}
func (wasmHost) kvDelete(binding, key string) int32 {
	return pKVDelete(sptr(binding), size(binding), sptr(key), size(key))
}
func (wasmHost) kvList(binding, prefix, cursor string, limit int32, buf []byte) int32 {
	return pKVList(sptr(binding), size(binding), sptr(prefix), size(prefix), sptr(cursor), size(cursor), limit, ptr(buf), size(buf))
}
func (wasmHost) kvCAS(binding, key string, old []byte, oldExists bool, value []byte, ttl int64) int32 {
	oldLen := size(old)
	if !oldExists {
		oldLen = -1
	}
	return pKVCAS(sptr(binding), size(binding), sptr(key), size(key), ptr(old), oldLen, ptr(value), size(value), ttl)
}

// The http-wasm handler ABI (https://http-wasm.io/http-handler-abi/).

//go:wasmimport http_handler set_method
func hSetMethod(p unsafe.Pointer, n int32)

//go:wasmimport http_handler set_uri
func hSetURI(p unsafe.Pointer, n int32)

//go:wasmimport http_handler set_header_value
func hSetHeaderValue(kind int32, name unsafe.Pointer, nameLen int32, value unsafe.Pointer, valueLen int32)

//go:wasmimport http_handler add_header_value
func hAddHeaderValue(kind int32, name unsafe.Pointer, nameLen int32, value unsafe.Pointer, valueLen int32)

//go:wasmimport http_handler remove_header
func hRemoveHeader(kind int32, name unsafe.Pointer, nameLen int32)

//go:wasmimport http_handler read_body
func hReadBody(kind int32, buf unsafe.Pointer, limit int32) int64

// Pier's own imports (docs/workers.md §2).

//go:wasmimport pier request_head
func pRequestHead(buf unsafe.Pointer, limit int32) int32

//go:wasmimport pier send_response
func pSendResponse(status int32, head unsafe.Pointer, headLen int32, body unsafe.Pointer, bodyLen int32)

//go:wasmimport pier log
func pLog(p unsafe.Pointer, n int32)

//go:wasmimport pier get_var
func pGetVar(name unsafe.Pointer, nameLen int32, buf unsafe.Pointer, limit int32) int32

//go:wasmimport pier fetch
func pFetch(req unsafe.Pointer, n int32) int32

//go:wasmimport pier asset
func pAsset(path unsafe.Pointer, n int32) int32

//go:wasmimport pier response_read
func pResponseRead(handle int32, buf unsafe.Pointer, limit int32) int32

//go:wasmimport pier response_close
func pResponseClose(handle int32)

//go:wasmimport pier kv_get
func pKVGet(binding unsafe.Pointer, bindingLen int32, key unsafe.Pointer, keyLen int32, buf unsafe.Pointer, limit int32) int32

//go:wasmimport pier kv_put
func pKVPut(binding unsafe.Pointer, bindingLen int32, key unsafe.Pointer, keyLen int32, value unsafe.Pointer, valueLen int32, ttlSeconds int64) int32

//go:wasmimport pier kv_delete
func pKVDelete(binding unsafe.Pointer, bindingLen int32, key unsafe.Pointer, keyLen int32) int32

//go:wasmimport pier kv_list
func pKVList(binding unsafe.Pointer, bindingLen int32, prefix unsafe.Pointer, prefixLen int32, cursor unsafe.Pointer, cursorLen int32, limit int32, buf unsafe.Pointer, bufLimit int32) int32

//go:wasmimport pier kv_cas
func pKVCAS(binding unsafe.Pointer, bindingLen int32, key unsafe.Pointer, keyLen int32, old unsafe.Pointer, oldLen int32, value unsafe.Pointer, valueLen int32, ttlSeconds int64) int32
