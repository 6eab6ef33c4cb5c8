package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestConsoleAndAPI(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := name
			if strings.Contains(r.URL.Path, "/.") || strings.Contains(r.URL.Path, "//") {
				got += " " + r.URL.Path
			}
			w.Write([]byte(got))
		})
	}
	h := consoleAndAPI(named("api"), named("console"), nil)
	tests := []struct{ name, path, want string }{
		{"api", "/api/v1/sites", "api"},
		{"bare api", "/api", "api"},
		{"health", "/healthz", "api"},
		{"metrics stay off the console", "/metrics", "api"},
		{"profiles stay off the console", "/debug/pprof/", "api"},
		{"root", "/", "console"},
		{"console route", "/sites", "console"},
		{"asset", "/assets/index-1.js", "console"},
		// The API's paths reach it as sent (a KV key "." or ".."), not
		// redirected to a cleaned path.
		{"dot segment", "/api/v1/kv/ns/keys/.", "api /api/v1/kv/ns/keys/."},
		{"dot-dot segment", "/api/v1/kv/ns/keys/..", "api /api/v1/kv/ns/keys/.."},
		{"double slash", "/api/v1//sites", "api /api/v1//sites"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("GET %s went to %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}
