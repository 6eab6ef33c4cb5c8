package hosting

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// recorder is an in-memory http.ResponseWriter: the ASSETS binding serves
// a deployment's asset into one and hands the guest the result.
type recorder struct {
	h      http.Header
	status int
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
	return rec.body.Write(p)
}

// response returns what was written as an *http.Response to req.
func (rec *recorder) response(req *http.Request) *http.Response {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	h := rec.h
	n := int64(rec.body.Len())
	if req.Method != http.MethodHead {
		h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: n,
		Request:       req,
	}
}
