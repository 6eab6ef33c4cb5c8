package worker

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
)

// Request bodies are read whole (up to Limits.MaxRequestBody) before the
// request takes an instance or a run slot, so that a client sending its
// body slowly holds neither: it only holds the bytes it sent, counted
// against Config.MaxBufferedBodies. A client that times out or goes away
// meanwhile is the client's failure (OutcomeClientError), not the
// worker's.

// bufferedBody is a request body read ahead, in chunks (never copied to
// grow), readable once.
type bufferedBody struct {
	chunks   [][]byte
	n        int64 // bytes held
	reserved int64 // bytes counted against the body budget (chunks' capacity)
	ci, off  int   // read position
}

func (b *bufferedBody) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && b.ci < len(b.chunks) {
		c := b.chunks[b.ci][b.off:]
		k := copy(p[n:], c)
		n += k
		b.off += k
		if b.off == len(b.chunks[b.ci]) {
			b.ci, b.off = b.ci+1, 0
		}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (b *bufferedBody) Close() error { return nil }

// Sizes of a buffered body's chunks: the first is at most
// firstBodyChunk (a slow client holds little), each next one twice the
// last, up to maxBodyChunk.
const (
	minBodyChunk   = 512
	firstBodyChunk = 4 << 10
	maxBodyChunk   = 64 << 10
)

// errBodiesFull: the node or the site has as many request bodies in
// memory as Config.MaxBufferedBodies allows.
var errBodiesFull = errors.New("worker: too many request bodies are being received")

// hasBody reports whether r carries a body to read.
func hasBody(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody }

// readBody reads r's body ahead of the guest, up to Limits.MaxRequestBody
// and within the runtime's body budget. On failure it returns the Result
// to fail with and releases what it reserved; on success the caller
// releases b.reserved with releaseBody.
func (w *Worker) readBody(r *http.Request) (*bufferedBody, Result, bool) {
	b := &bufferedBody{}
	size := int64(minBodyChunk)
	if r.ContentLength > 0 {
		// One more byte than announced, to see the end in the same chunk;
		// the announced length only sizes the chunks: it is not trusted.
		size = min(max(r.ContentLength+1, minBodyChunk), firstBodyChunk)
	}
	limit := w.lim.MaxRequestBody
	for {
		if !w.rt.bodies.take(w.owner.Site, size) {
			w.releaseBody(b)
			return nil, Result{Outcome: OutcomeBusy, Err: errBodiesFull}, false
		}
		b.reserved += size
		chunk := make([]byte, size)
		n, err := fill(r.Body, chunk)
		if n > 0 {
			b.chunks = append(b.chunks, chunk[:n])
			b.n += int64(n)
		}
		if b.n > limit {
			w.releaseBody(b)
			return nil, Result{Outcome: OutcomeRequestTooLarge, Err: errRequestTooLarge}, false
		}
		switch {
		case errors.Is(err, io.EOF):
			return b, Result{}, true
		case err != nil:
			w.releaseBody(b)
			return nil, Result{Outcome: OutcomeClientError, Err: &clientError{err: err}}, false
		}
		size = min(size*2, maxBodyChunk, limit+1-b.n)
		size = max(size, 1)
	}
}

// fill reads into p until it is full or the reader fails; unlike
// io.ReadFull it returns io.EOF itself (the body's end) and any other
// error as it is (io.ErrUnexpectedEOF from the server is a truncated
// body).
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// releaseBody gives a buffered body's bytes back to the budget.
func (w *Worker) releaseBody(b *bufferedBody) {
	w.rt.bodies.give(w.owner.Site, b.reserved)
	b.reserved = 0
	b.chunks = nil
}

// clientError is a failure to receive the request from the client.
type clientError struct{ err error }

func (e *clientError) Error() string { return "worker: reading request body: " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// timedOut reports whether the client was too slow (the server's read
// deadline passed) rather than gone.
func (e *clientError) timedOut() bool {
	var ne net.Error
	return errors.Is(e.err, os.ErrDeadlineExceeded) || errors.As(e.err, &ne) && ne.Timeout()
}
