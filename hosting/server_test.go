package hosting

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
)

func TestNewServerLimits(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	s := NewServer(":0", h)
	tests := []struct {
		name string
		ok   bool
	}{
		{"addr", s.Addr == ":0"},
		{"handler", s.Handler != nil},
		{"read header timeout", s.ReadHeaderTimeout > 0 && s.ReadHeaderTimeout <= s.ReadTimeout},
		{"read timeout", s.ReadTimeout > 0},
		// A 25 MiB file must reach a client reading at 1 Mbit/s-ish.
		{"write timeout fits 25 MiB at ~150 KiB/s", s.WriteTimeout >= (25<<20)/(150<<10)*1e9},
		{"idle timeout", s.IdleTimeout > 0},
		{"max header bytes", s.MaxHeaderBytes > 0 && s.MaxHeaderBytes <= 64<<10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Fatalf("%s not set as required: %+v", tc.name, s)
			}
		})
	}
}

// TestOverRealServer drives the edge through net/http's server and client,
// where header handling (HEAD, 304, Content-Length) is the real one.
func TestOverRealServer(t *testing.T) {
	t.Parallel()
	e := assetEnv(t, tenants.DeploymentConfig{})
	srv := httptest.NewUnstartedServer(e.edge)
	srv.Config = NewServer("", e.edge)
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	tests := []struct {
		name, method, path, accept, inm string
		status                          int
		body, length, encoding          string
	}{
		{"get", "GET", "/app.js", "", "", 200, appJS, "27", ""},
		{"brotli", "GET", "/app.js", "br", "", 200, "BR-js", "5", "br"},
		{"head", "HEAD", "/app.js", "gzip", "", 200, "", "5", "gzip"},
		{"not modified", "GET", "/app.js", "", `"` + hashOf(appJS) + `"`, 304, "", "", ""},
		{"not found", "GET", "/nope.js", "", "", 404, "not found (not_found)\n", "22", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "Site.Pier.Test:8080"
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			if tc.inm != "" {
				req.Header.Set("If-None-Match", tc.inm)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || string(body) != tc.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if got := resp.Header.Get("Content-Length"); got != tc.length {
				t.Errorf("Content-Length %q, want %q", got, tc.length)
			}
			if got := resp.Header.Get("Content-Encoding"); got != tc.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tc.encoding)
			}
		})
	}
}

// TestCloseAfterChunked sends what a proxy framing by Content-Length
// sees as one request and Pier, framing by Transfer-Encoding, as two: Pier
// must answer the first and close the connection, so that the smuggled
// GET is never served (RFC 9112 §6.1).
func TestCloseAfterChunked(t *testing.T) {
	t.Parallel()
	var served []string
	var mu sync.Mutex
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = NewServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		served = append(served, r.Method+" "+r.URL.Path)
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	exchange := func(t *testing.T, raw string) (responses int, closed bool) {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(testenv.Patience))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return responses, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			responses++
			if resp.Close {
				_, err := br.ReadByte() // the server closes after a Connection: close answer
				return responses, errors.Is(err, io.EOF)
			}
			if responses == 2 {
				return responses, false
			}
		}
	}
	t.Run("content-length and chunked", func(t *testing.T) {
		n, closed := exchange(t, "POST /first HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.example\r\n\r\n")
		if n != 1 || !closed {
			t.Errorf("got %d responses, connection closed %v; want 1 and closed", n, closed)
		}
		mu.Lock()
		defer mu.Unlock()
		if slices.Contains(served, "GET /smuggled") {
			t.Errorf("the smuggled request was served: %v", served)
		}
	})
	t.Run("content-length keeps the connection", func(t *testing.T) {
		n, closed := exchange(t, "POST /one HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\n\r\nhi"+
			"GET /two HTTP/1.1\r\nHost: a.example\r\n\r\n")
		if n != 2 || closed {
			t.Errorf("got %d responses, connection closed %v; want 2 on one open connection", n, closed)
		}
	})
}
