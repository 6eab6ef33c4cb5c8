package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The handler runs natively too (the SDK builds on every GOOS): these tests
// cover the API; examples_test.go runs the wasm build through the runtime.
func TestAPI(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "0123456789")
	}))
	defer upstream.Close()

	tests := []struct {
		name, method, target, body string
		status                     int
		want                       map[string]any
	}{
		{name: "hello", method: "GET", target: "/api/hello?name=x", status: 200, want: map[string]any{"hello": "x"}},
		{name: "hello without name or var", method: "GET", target: "/api/hello", status: 200, want: map[string]any{"hello": "world"}},
		{name: "echo", method: "POST", target: "/api/echo", body: `{"n":[1,"a"]}`, status: 200,
			want: map[string]any{"echo": map[string]any{"n": []any{1.0, "a"}}}},
		{name: "echo bad json", method: "POST", target: "/api/echo", body: `[`, status: 400},
		{name: "echo too large", method: "POST", target: "/api/echo", body: `"` + strings.Repeat("a", maxEcho) + `"`, status: 413},
		{name: "echo wrong method", method: "GET", target: "/api/echo", status: 404},
		{name: "fetch", method: "GET", target: "/api/fetch?url=" + upstream.URL, status: 200,
			want: map[string]any{"status": 200.0, "bytes": 10.0}},
		{name: "fetch repeated", method: "GET", target: "/api/fetch?n=3&url=" + upstream.URL, status: 200,
			want: map[string]any{"fetched": 3.0}},
		{name: "fetch bad n", method: "GET", target: "/api/fetch?n=0&url=" + upstream.URL, status: 400},
		{name: "fetch without url", method: "GET", target: "/api/fetch", status: 400},
		{name: "unknown", method: "GET", target: "/api/unknown", status: 404},
	}
	h := newHandler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.want == nil {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if g, _ := json.Marshal(got[k]); string(g) != mustJSON(v) {
					t.Errorf("%s = %s, want %s", k, g, mustJSON(v))
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
