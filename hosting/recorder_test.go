package hosting

import (
	"io"
	"net/http"
	"testing"
)

func TestRecorder(t *testing.T) {
	t.Parallel()
	blob := []byte("blob-bytes")
	tests := []struct {
		name   string
		write  func(rec *recorder)
		body   string
		shared bool // the body is blob itself, not a copy
	}{
		{"shared blob", func(rec *recorder) { rec.shareBody(blob) }, "blob-bytes", true},
		{"writes copy", func(rec *recorder) { rec.Write([]byte("a")); rec.Write([]byte("b")) }, "ab", false},
		{"blob then write", func(rec *recorder) { rec.shareBody(blob); rec.Write([]byte("!")) }, "blob-bytes!", false},
		{"write then blob", func(rec *recorder) { rec.Write([]byte("<")); rec.shareBody(blob) }, "<blob-bytes", false},
		{"empty", func(rec *recorder) { rec.WriteHeader(http.StatusNoContent) }, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			tc.write(rec)
			if got := string(rec.bytes()); got != tc.body {
				t.Fatalf("body %q, want %q", got, tc.body)
			}
			if b := rec.bytes(); tc.shared != (len(b) > 0 && &b[0] == &blob[0]) {
				t.Fatalf("shared = %v, want %v", !tc.shared, tc.shared)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
			resp := rec.response(req)
			got, _ := io.ReadAll(resp.Body)
			if string(got) != tc.body || resp.ContentLength != int64(len(tc.body)) {
				t.Fatalf("response body %q, length %d", got, resp.ContentLength)
			}
		})
	}
}

// TestRecorderLength: a response's Content-Length is its body's, but for
// HEAD, where the writer's own is kept, or the body's when it set none.
func TestRecorderLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, set, body, want string
	}{
		{"GET", "GET", "", "hello", "5"},
		{"GET replaces a wrong one", "GET", "99", "hello", "5"},
		{"HEAD keeps the writer's", "HEAD", "27", "", "27"},
		{"HEAD of a body without one", "HEAD", "", "hello", "5"},
		{"HEAD of nothing", "HEAD", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			if tc.set != "" {
				rec.Header().Set("Content-Length", tc.set)
			}
			rec.WriteHeader(http.StatusOK)
			rec.Write([]byte(tc.body))
			req, _ := http.NewRequest(tc.method, "http://x/", nil)
			if got := rec.response(req).Header.Get("Content-Length"); got != tc.want {
				t.Errorf("Content-Length %q, want %q", got, tc.want)
			}
		})
	}
}
