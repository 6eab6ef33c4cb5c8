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
// [readInto] and [readList].
type abi interface {
	getMethod(buf []byte) uint32
	setMethod(method string)
	getURI(buf []byte) uint32
	setURI(uri string)
	getProtocolVersion(buf []byte) uint32
	getSourceAddr(buf []byte) uint32
	// getHeaderNames and getHeaderValues return count<<32 | len, where the
	// len bytes hold count NUL-terminated strings.
	getHeaderNames(kind uint32, buf []byte) uint64
	getHeaderValues(kind uint32, name string, buf []byte) uint64
	setHeaderValue(kind uint32, name, value string)
	addHeaderValue(kind uint32, name, value string)
	removeHeader(kind uint32, name string)
	// readBody returns eof<<32 | len.
	readBody(kind uint32, buf []byte) uint64
	writeBody(kind uint32, b []byte)
	setStatusCode(code uint32)

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

// readList is readString for functions returning count<<32 | len over
// NUL-terminated strings (get_header_names, get_header_values). The strings
// are appended to dst; the returned slice's capacity equals its length so
// that appending to it never writes into a shared array.
func (s *scratch) readList(dst []string, fill func(buf []byte) uint64) []string {
	buf := s.full()
	r := fill(buf)
	count, n := int(r>>32), int(uint32(r))
	if n > len(buf) {
		buf = s.get(n)
		r = fill(buf)
		count, n = int(r>>32), min(int(uint32(r)), len(buf))
	}
	return splitNUL(dst, buf[:n], count)
}

// splitNUL appends the count NUL-terminated strings in b to dst. A final
// string without its terminator is kept; strings past count are ignored.
func splitNUL(dst []string, b []byte, count int) []string {
	if count <= 0 {
		return dst
	}
	if dst == nil {
		dst = make([]string, 0, count)
	}
	for len(b) > 0 && count > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		dst = append(dst, string(b[:i]))
		count--
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return dst[:len(dst):len(dst)]
}
