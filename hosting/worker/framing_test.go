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
// net/http's server and reads them off the wire: each is framed by a
// Content-Length equal to the body sent (set by net/http for a body it
// buffers whole, by writeBuffered for a larger one), never chunked, and a
// Content-Length or Transfer-Encoding the response carried before (here
// from next, through buffer_response) does not reach the client.
func TestFramingOverRealServer(t *testing.T) {
	rt := newRuntime(t, Config{})
	lim := Limits{CPU: time.Second, MemoryBytes: 64 << 20, MaxResponseBody: 1 << 20}
	workers := map[string]*Worker{}
	for _, name := range []string{"hello", "bigbody", "nextbuf"} {
		workers[name] = newWorker(t, rt, name, nil, lim)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "999")
		w.Header().Set("Transfer-Encoding", "chunked")
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		io.WriteString(w, strings.Repeat("a", n))
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
		length        int // the Content-Length header and, but for HEAD, the body's size
	}{
		{"GET", "hello", 200, 12},
		{"HEAD", "hello", 200, 12},
		{"GET", "bigbody", 200, 100 << 10},
		{"HEAD", "bigbody", 200, 100 << 10},
		{"GET", "nextbuf?n=10", 299, 12},
		{"GET", "nextbuf?n=3000", 299, 3002},
		{"HEAD", "nextbuf?n=10", 299, 12},
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
		wantBody := tc.length
		if tc.method == "HEAD" {
			wantBody = 0
		}
		if resp.StatusCode != tc.status || len(body) != wantBody {
			t.Errorf("%s %s: %d with %d bytes, want %d with %d", tc.method, tc.guest, resp.StatusCode, len(body), tc.status, wantBody)
		}
		if got := resp.Header.Get("Content-Length"); got != fmt.Sprint(tc.length) {
			t.Errorf("%s %s: Content-Length %q, want %d", tc.method, tc.guest, got, tc.length)
		}
		if len(resp.TransferEncoding) > 0 || resp.Header["Transfer-Encoding"] != nil {
			t.Errorf("%s %s: Transfer-Encoding %v", tc.method, tc.guest, resp.TransferEncoding)
		}
	}
}
