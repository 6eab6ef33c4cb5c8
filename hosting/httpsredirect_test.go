package hosting

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRedirectToHTTPS(t *testing.T) {
	t.Parallel()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	h := RedirectToHTTPS(next, func(host string) bool { return host == "www.example.com" }, ":8443")
	tests := []struct {
		name, host, target string
		status             int
		location           string
	}{
		{"custom domain", "www.example.com", "/a?b=c", 308, "https://www.example.com:8443/a?b=c"},
		{"custom domain with port, uppercase and dot", "WWW.Example.com.:80", "/", 308, "https://www.example.com:8443/"},
		{"ACME challenge stays on http", "www.example.com", "/.well-known/acme-challenge/tok", 299, ""},
		{"ownership proof stays on http", "www.example.com", "/.well-known/pier-challenge/tok", 299, ""},
		{"platform host", "blog.localhost", "/", 299, ""},
		{"malformed host", "bad host", "/", 299, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("Location") != tc.location {
				t.Fatalf("%s%s = %d %q, want %d %q", tc.host, tc.target, w.Code, w.Header().Get("Location"), tc.status, tc.location)
			}
		})
	}
}
