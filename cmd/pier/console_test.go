package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestConsoleAndAPI(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(name)) })
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
