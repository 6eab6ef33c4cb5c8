package hosting

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// recorder is an in-memory http.ResponseWriter: the ASSETS binding serves
// a deployment's asset into one and hands the guest the result. Write
// copies, as io.Writer requires; the edge hands a file's blob (immutable,
// shared with the blob cache) to shareBody instead, so an asset is not
// copied.
type recorder struct {
	h      http.Header
	status int
	shared []byte // a blob set by shareBody
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{h: make(http.Header)} }

func (rec *recorder) Header() http.Header { return rec.h }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
		rec.h = rec.h.Clone() // later edits by the writer do not leak into the response
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	rec.unshare()
	return rec.body.Write(p)
}

// shareBody appends b, which the caller never mutates, without copying it
// when it is the whole body.
func (rec *recorder) shareBody(b []byte) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.shared == nil && rec.body.Len() == 0 {
		rec.shared = b
		return
	}
	rec.unshare()
	rec.body.Write(b)
}

// unshare moves a shared body into the buffer before more is appended.
func (rec *recorder) unshare() {
	if rec.shared != nil {
		rec.body.Write(rec.shared)
		rec.shared = nil
	}
}

// bytes returns the body written.
func (rec *recorder) bytes() []byte {
	if rec.shared != nil {
		return rec.shared
	}
	return rec.body.Bytes()
}

// response returns what was written as an *http.Response to req.
func (rec *recorder) response(req *http.Request) *http.Response {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	h := rec.h
	body := rec.bytes()
	n := int64(len(body))
	if req.Method != http.MethodHead || n > 0 && h["Content-Length"] == nil {
		// A HEAD's answer keeps the length its writer set (a file's), or
		// gets that of the body it wrote (a worker leaves a small
		// answer's to net/http, which frames a body it holds whole).
		h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: n,
		Request:       req,
	}
}
