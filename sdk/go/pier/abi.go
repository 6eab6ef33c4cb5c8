package pier

// Header and body kinds of the http-wasm handler ABI.
const (
	kindRequest  uint32 = 0
	kindResponse uint32 = 1
)

// abi is the host side of the guest ABI as this package calls it: the
// http-wasm handler functions (module http_handler) and Pier's own (module
// pier), one method per import, with Go slices and strings in place of
// pointer/length pairs. On wasip1 it is implemented by the imports in
// imports_wasip1.go; tests implement it in memory.
//
// Functions that fill a buffer return the length of the whole value and
// write nothing when it does not fit (http-wasm's convention); see
// [scratch.readString].
type abi interface {
	setMethod(method string)
	setURI(uri string)
	setHeaderValue(kind uint32, name, value string)
	addHeaderValue(kind uint32, name, value string)
	removeHeader(kind uint32, name string)
	// readBody returns eof<<32 | len.
	readBody(kind uint32, buf []byte) uint64

	// requestHead (pier.request_head) fills buf with the request head:
	// method, URI, protocol, source address, "0" if the request has no
	// body (else "1"), then a name and a value per request header value,
	// each NUL-terminated.
	requestHead(buf []byte) uint32
	// sendResponse (pier.send_response) sets the response status, its
	// headers (head holds a name and a value per header value, each
	// NUL-terminated) and appends body.
	sendResponse(status uint32, head, body []byte)

	log(msg string)
	getVar(name string, buf []byte) int32
	fetch(req []byte) int32
	asset(path string) int32
	responseRead(handle int32, buf []byte) int32
	responseClose(handle int32)

	kvABI
}

// scratch is the buffer the buffer-filling functions write into before the
// result is copied into a string. The host calls the guest one request at a
// time, so one buffer serves them all; it grows to the largest value seen,
// up to maxScratch, beyond which a one-off buffer is used.
type scratch struct{ buf []byte }

const (
	initialScratch = 2 << 10
	maxScratch     = 64 << 10
)

// get returns a buffer of at least n bytes.
func (s *scratch) get(n int) []byte {
	if n <= cap(s.buf) {
		return s.buf[:n]
	}
	if n > maxScratch {
		return make([]byte, n)
	}
	s.buf = make([]byte, max(n, initialScratch))
	return s.buf[:n]
}

// full returns the whole scratch buffer.
func (s *scratch) full() []byte {
	if cap(s.buf) == 0 {
		s.buf = make([]byte, initialScratch)
	}
	return s.buf[:cap(s.buf)]
}

// readString calls fill, which returns the length of a value and writes it
// into buf when it fits, and calls it again with a large enough buffer when
// it does not.
func (s *scratch) readString(fill func(buf []byte) uint32) string {
	buf := s.full()
	n := int(fill(buf))
	if n > len(buf) {
		buf = s.get(n)
		n = min(int(fill(buf)), len(buf))
	}
	return string(buf[:n])
}
