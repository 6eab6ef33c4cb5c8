package hosting

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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
