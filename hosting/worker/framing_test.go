package worker

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFramingOverRealServer sends guests' buffered responses through
// net/http's server and reads them off the wire, on one keep-alive
// connection: each is framed by a Content-Length equal to the body sent
// (set by net/http for a body it buffers whole, by writeBuffered for a
// larger one or one with trailers, at the 2048-byte edge of net/http's
// buffer too), never chunked; a Content-Length or Transfer-Encoding the
// response carried from next (through buffer_response) does not reach
// the client, but for a HEAD, whose answer keeps the length next
// declared; 204 and 304 carry none.
func TestFramingOverRealServer(t *testing.T) {
	rt := newRuntime(t, Config{})
	lim := Limits{CPU: time.Second, MemoryBytes: 64 << 20, MaxResponseBody: 1 << 20}
	workers := map[string]*Worker{}
	for _, name := range []string{"hello", "bigbody", "nextbuf", "nextbufhdr"} {
		workers[name] = newWorker(t, rt, name, nil, lim)
	}
	// next answers n bytes with status s (200 if absent), declaring its
	// length (999 if wrong is set) and, with trailer, a trailer; like
	// the edge's static handler, it writes no body for HEAD.
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n, _ := strconv.Atoi(q.Get("n"))
		if q.Has("wrong") {
			w.Header().Set("Content-Length", "999")
			w.Header().Set("Transfer-Encoding", "chunked")
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		if q.Has("trailer") {
			w.Header().Set("Trailer", "X-Sum")
		}
		if s, _ := strconv.Atoi(q.Get("s")); s != 0 {
			w.WriteHeader(s)
		}
		if r.Method != http.MethodHead {
			io.WriteString(w, strings.Repeat("a", n))
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := workers[strings.TrimPrefix(r.URL.Path, "/")]
		if w == nil {
			t.Errorf("no guest %s", r.URL.Path)
			return
		}
		if res := w.Serve(rw, r, &fakeHost{}, next); res.Outcome != OutcomeOK {
			t.Errorf("%s: %v %v", r.URL.Path, res.Outcome, res.Err)
		}
	}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	tests := []struct {
		method, guest string // guest: its name and query
		status        int
		length        int // the Content-Length header and, but for HEAD, the body's size; -1: no header, no body
	}{
		{"GET", "hello", 200, 12},
		{"HEAD", "hello", 200, 12},
		{"GET", "bigbody", 200, 100 << 10},
		{"HEAD", "bigbody", 200, 100 << 10},
		{"GET", "nextbuf?n=10&wrong", 299, 12},
		{"GET", "nextbuf?n=3000&wrong", 299, 3002},
		{"HEAD", "nextbuf?n=10&wrong", 299, 2}, // the guest wrote "<<"
		{"GET", "nextbufhdr?n=2048", 200, 2048},
		{"GET", "nextbufhdr?n=2049", 200, 2049},
		{"GET", "nextbufhdr?n=0", 200, 0},
		{"GET", "nextbufhdr?n=100&trailer", 200, 100},
		{"HEAD", "nextbufhdr?n=3000", 200, 3000}, // next's declared length
		{"HEAD", "nextbufhdr?n=10", 200, 10},
		{"GET", "nextbufhdr?s=204", 204, -1}, // no Content-Length
		{"GET", "nextbufhdr?s=304&n=10", 304, -1},
		{"GET", "hello", 200, 12}, // the connection is still in step
	}
	for _, tc := range tests {
		// One keep-alive connection for all: a wrong framing would
		// desynchronise the responses that follow.
		fmt.Fprintf(conn, "%s /%s HTTP/1.1\r\nHost: t.example\r\n\r\n", tc.method, tc.guest)
		req, _ := http.NewRequest(tc.method, "/", nil)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.guest, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: body: %v", tc.method, tc.guest, err)
		}
		wantBody := max(tc.length, 0)
		if tc.method == "HEAD" {
			wantBody = 0
		}
		if resp.StatusCode != tc.status || len(body) != wantBody {
			t.Errorf("%s %s: %d with %d bytes, want %d with %d", tc.method, tc.guest, resp.StatusCode, len(body), tc.status, wantBody)
		}
		want := fmt.Sprint(tc.length)
		if tc.length < 0 {
			want = ""
		}
		if got := resp.Header.Get("Content-Length"); got != want {
			t.Errorf("%s %s: Content-Length %q, want %q", tc.method, tc.guest, got, want)
		}
		if len(resp.TransferEncoding) > 0 || resp.Header["Transfer-Encoding"] != nil {
			t.Errorf("%s %s: Transfer-Encoding %v", tc.method, tc.guest, resp.TransferEncoding)
		}
	}
}
