package pier

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkServe measures the SDK's own cost per request (request built,
// handler run, response handed over) against the in-memory host.
func BenchmarkServe(b *testing.B) {
	f := newFakeHost()
	f.uri = "/api/hello?name=bench"
	f.reqHeader = [][2]string{
		{"Host", "site.example"}, {"Accept", "*/*"}, {"User-Agent", "wrk"}, {"Accept-Encoding", "gzip, br"},
	}
	s := server{h: f}
	hd := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"hello":"`+r.URL.Query().Get("name")+`"}`)
	})
	b.ReportAllocs()
	for b.Loop() {
		f.respCalls, f.respBody = f.respCalls[:0], f.respBody[:0]
		if s.serve(hd) != 0 {
			b.Fatal("fell through")
		}
	}
}
