package hosting

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRouteHost(t *testing.T) {
	t.Parallel()
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })
	}
	h := RouteHost(named("edge"), HostRoute{Host: "console.example.net", Handler: named("console")})
	for _, tc := range []struct{ host, want string }{
		{"console.example.net", "console"},
		{"Console.Example.NET.", "console"},
		{"console.example.net:8443", "console"},
		{"blog.pier.test", "edge"},
		{"console.example.net.evil", "edge"},
		{"", "edge"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Body.String() != tc.want {
				t.Errorf("Host %q went to %s, want %s", tc.host, w.Body.String(), tc.want)
			}
		})
	}
	if RouteHost(named("edge"), HostRoute{}) == nil {
		t.Fatal("nil handler without a host")
	}
}

// TestRouteHostTimeouts: a request for the routed host outlives the edge
// server's read timeout when its route allows it.
func TestRouteHostTimeouts(t *testing.T) {
	t.Parallel()
	body := func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		io.WriteString(w, strings.Repeat("x", int(n)))
	}
	srv := httptest.NewUnstartedServer(RouteHost(http.HandlerFunc(body), HostRoute{
		Host: "console.example.net", Handler: http.HandlerFunc(body),
		ReadTimeout: time.Minute, WriteTimeout: time.Minute,
	}))
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()
	send := func(host string) error {
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte("a"))
			time.Sleep(600 * time.Millisecond) // a slow client: past the server's ReadTimeout
			pw.Write([]byte("b"))
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", srv.URL, pr)
		req.Host = host
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "xx" {
			return fmt.Errorf("%s %q", resp.Status, b)
		}
		return nil
	}
	if err := send("console.example.net"); err != nil {
		t.Errorf("a slow upload to the console host was cut off: %v", err)
	}
	if err := send("blog.pier.test"); err == nil {
		t.Error("a slow request to the edge outlived the server's read timeout")
	}
}
