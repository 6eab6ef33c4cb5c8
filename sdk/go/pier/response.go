package pier

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// maxKeptBody is the largest response buffer kept for the next request; a
// larger one is dropped so one big response does not pin its memory.
const maxKeptBody = 1 << 20

// responseWriter buffers the handler's response; emit hands it to the host
// in one pier.send_response call. Its header map and buffers are reused
// from one request to the next (a ResponseWriter must not be used after
// the handler returns).
type responseWriter struct {
	header      http.Header // what Header returns
	status      int
	wroteHeader bool
	body        []byte
	next        bool

	// At WriteHeader the headers are encoded into head (name NUL value
	// NUL, names sorted); Content-Length's values are head[clStart:clEnd],
	// to be dropped at emit if the first is not the body's length.
	head           []byte
	clStart, clEnd int
	contentLength  string
	hasContentType bool
	keys           []string
}

var _ http.ResponseWriter = (*responseWriter)(nil)

func (w *responseWriter) reset() {
	if w.header == nil {
		w.header = make(http.Header)
	}
	if len(w.header) > 0 {
		clear(w.header)
	}
	w.status = 0
	w.wroteHeader = false
	w.next = false
	if cap(w.body) > maxKeptBody {
		w.body = nil
	}
	w.body = w.body[:0]
	if cap(w.head) > maxKeptBody {
		w.head = nil
	}
	w.head = w.head[:0]
	w.clStart, w.clEnd, w.contentLength = 0, 0, ""
	w.hasContentType = false
	if len(w.keys) > 0 {
		clear(w.keys)
		w.keys = w.keys[:0]
	}
}

// Header returns the response headers, which may be changed until the
// first call to WriteHeader or Write.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader sets the status code. Informational (1xx) codes are ignored:
// the response reaches the client only when the handler returns.
func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader || code < 200 {
		return
	}
	w.wroteHeader = true
	w.status = code
	// Like net/http, later changes to the header map are not sent: the
	// headers are encoded now.
	w.keys = w.keys[:0]
	if len(w.header) == 0 {
		return
	}
	for k, vals := range w.header {
		if len(vals) > 0 {
			w.keys = append(w.keys, k)
		}
	}
	if len(w.keys) > 1 {
		slices.Sort(w.keys)
	}
	for _, k := range w.keys {
		vals := w.header[k]
		switch k {
		case "Content-Length":
			w.clStart, w.contentLength = len(w.head), vals[0]
		case "Content-Type":
			w.hasContentType = true
		case "Content-Encoding":
			if vals[0] != "" {
				w.hasContentType = true // not sniffed, as net/http
			}
		}
		for _, v := range vals {
			w.head = append(w.head, k...)
			w.head = append(w.head, 0)
			w.head = append(w.head, v...)
			w.head = append(w.head, 0)
		}
		if k == "Content-Length" {
			w.clEnd = len(w.head)
		}
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *responseWriter) WriteString(s string) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, s...)
	return len(s), nil
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// emit hands the buffered response to the host: the status, the headers
// in a stable order, and the body, in one call. Like net/http it sniffs a
// Content-Type when the handler set none.
func (w *responseWriter) emit(h abi) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.clEnd > w.clStart && len(w.body) > 0 && w.contentLength != strconv.Itoa(len(w.body)) {
		// The host frames the body itself; a wrong length is dropped.
		w.head = append(w.head[:w.clStart], w.head[w.clEnd:]...)
	}
	if len(w.body) > 0 && !w.hasContentType {
		w.head = appendHeader(w.head, "Content-Type", http.DetectContentType(w.body))
	}
	h.sendResponse(uint32(w.status), w.head, w.body)
}

func appendHeader(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, value...)
	return append(b, 0)
}
