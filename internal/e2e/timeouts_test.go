package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting"
	"github.com/pierhq/pier/internal/testenv"
)

// TestEdgeTimeouts: the edge's read timeouts, enforced through
// internal/lazydeadline in pier serve, still cut off a client that sends
// half a request (slowloris) on the edge and on the admin listener, never
// before the timeout; a client that sends whole requests is served.
func TestEdgeTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	s := startPier(t, "", nil)
	for _, tc := range []struct {
		name, addr string
		timeout    time.Duration
	}{
		{"edge", s.EdgeAddr, hosting.ServerReadHeaderTimeout},
		{"admin", strings.TrimPrefix(s.API, "http://"), 10 * time.Second}, // cmd/pier's admin server
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// A whole request is answered on the same connection first.
			br := bufio.NewReader(c)
			io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: unknown.localhost\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("a whole request: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			halfHeader(t, c, br, tc.timeout)
		})
	}
}

// halfHeader sends the start of a request on c and checks that the
// server closes the connection, not before timeout has passed.
func halfHeader(t *testing.T, c net.Conn, br *bufio.Reader, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: unknown.localhost\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(testenv.Patience))
	for {
		_, err := br.ReadByte()
		if err == nil {
			continue // a 408 or 400 answer before the close is fine
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the server kept a half-sent request open for %v", testenv.Patience)
		}
		break
	}
	if d := time.Since(start); d < timeout {
		t.Fatalf("closed %v after half a request, before the %v timeout", d, timeout)
	}
}
