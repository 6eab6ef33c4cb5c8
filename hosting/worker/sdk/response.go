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

// responseWriter buffers the handler's response; emit hands it to the host.
type responseWriter struct {
	header      http.Header // what Header returns
	sent        http.Header // the headers at WriteHeader: what emit sends
	status      int
	wroteHeader bool
	body        []byte
	next        bool
	keys        []string
}

var _ http.ResponseWriter = (*responseWriter)(nil)

func (w *responseWriter) reset() {
	if w.header == nil || len(w.header) > 0 || w.sent != nil {
		w.header = make(http.Header)
	}
	w.sent = nil
	w.status = 0
	w.wroteHeader = false
	w.next = false
	if cap(w.body) > maxKeptBody {
		w.body = nil
	}
	w.body = w.body[:0]
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
	// Like net/http, later changes to the header map are not sent.
	w.sent = w.header
	w.header = w.header.Clone()
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
// in a stable order, and the body in one write. Like net/http it sniffs a
// Content-Type when the handler set none.
func (w *responseWriter) emit(h abi) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	header := w.sent
	if len(w.body) > 0 {
		if _, ok := header["Content-Type"]; !ok && header.Get("Content-Encoding") == "" {
			header.Set("Content-Type", http.DetectContentType(w.body))
		}
	}
	h.setStatusCode(uint32(w.status))
	w.keys = w.keys[:0]
	for k := range header {
		w.keys = append(w.keys, k)
	}
	slices.Sort(w.keys)
	for _, k := range w.keys {
		vals := header[k]
		if len(vals) == 0 {
			continue
		}
		if k == "Content-Length" && len(w.body) > 0 && vals[0] != strconv.Itoa(len(w.body)) {
			// The host frames the body itself; a wrong length is dropped.
			continue
		}
		h.setHeaderValue(kindResponse, k, vals[0])
		for _, v := range vals[1:] {
			h.addHeaderValue(kindResponse, k, v)
		}
	}
	if len(w.body) > 0 {
		h.writeBody(kindResponse, w.body)
	}
}
