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
