package pier

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestScratchCallsAgainWithBiggerBuffer(t *testing.T) {
	var s scratch
	long := strings.Repeat("x", 5000)
	var calls []int
	got := s.readString(func(buf []byte) uint32 {
		calls = append(calls, len(buf))
		return fill(buf, long)
	})
	if got != long {
		t.Fatalf("got %d bytes, want %d", len(got), len(long))
	}
	if len(calls) != 2 || calls[0] != initialScratch || calls[1] != len(long) {
		t.Errorf("buffer sizes %v, want [%d %d]", calls, initialScratch, len(long))
	}
	// The grown buffer is kept: the next long value needs one call.
	calls = nil
	s.readString(func(buf []byte) uint32 { calls = append(calls, len(buf)); return fill(buf, long) })
	if len(calls) != 1 {
		t.Errorf("second read took %d calls, want 1", len(calls))
	}
	// Values beyond maxScratch use a one-off buffer.
	huge := strings.Repeat("y", maxScratch+1)
	if got := s.readString(func(buf []byte) uint32 { return fill(buf, huge) }); got != huge {
		t.Errorf("huge value: got %d bytes", len(got))
	}
	if cap(s.buf) > maxScratch {
		t.Errorf("scratch grew to %d, beyond %d", cap(s.buf), maxScratch)
	}
}

func TestRequestFromHost(t *testing.T) {
	f := newFakeHost()
	f.method = "POST"
	f.uri = "/api/items?id=7&q=a%20b"
	f.proto = "HTTP/2.0"
	f.addr = "203.0.113.9:55555"
	bigCookie := strings.Repeat("c", 3000) // beyond the initial scratch buffer
	f.reqHeader = [][2]string{
		{"host", "shop.example.com"},
		{"content-type", "application/json"},
		{"x-multi", "one"},
		{"x-multi", "two"},
		{"cookie", bigCookie},
		{"content-length", ""},
	}
	const wantBody = `{"name":"widget","n":1}`
	f.reqHeader[len(f.reqHeader)-1][1] = "23"
	f.reqBody = []byte(wantBody)
	f.bodyChunk = 5

	var got *http.Request
	var body []byte
	res := serveWith(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			t.Errorf("reading body: %v", err)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	if res != 0 {
		t.Fatalf("handle_request = %d, want 0", res)
	}
	checks := []struct{ name, got, want string }{
		{"method", got.Method, "POST"},
		{"path", got.URL.Path, "/api/items"},
		{"query q", got.URL.Query().Get("q"), "a b"},
		{"RequestURI", got.RequestURI, f.uri},
		{"proto", got.Proto, "HTTP/2.0"},
		{"host", got.Host, "shop.example.com"},
		{"remote", got.RemoteAddr, "203.0.113.9:55555"},
		{"content-type", got.Header.Get("Content-Type"), "application/json"},
		{"x-multi", strings.Join(got.Header.Values("X-Multi"), ","), "one,two"},
		{"cookie", got.Header.Get("Cookie"), bigCookie},
		{"body", string(body), wantBody},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %.60q, want %.60q", c.name, c.got, c.want)
		}
	}
	if got.ProtoMajor != 2 || got.ContentLength != 23 {
		t.Errorf("ProtoMajor %d ContentLength %d, want 2 and 23", got.ProtoMajor, got.ContentLength)
	}
	if _, ok := got.Header["Host"]; ok {
		t.Errorf("Host left in the header map")
	}
	if f.status != 204 {
		t.Errorf("status %d, want 204", f.status)
	}
}

func TestRequestBodyFraming(t *testing.T) {
	tests := []struct {
		name      string
		header    [][2]string
		body      string
		mayHave   bool // the host reports a body that turns out empty
		wantLen   int64
		wantReads bool
	}{
		{name: "zero length is NoBody", header: [][2]string{{"Content-Length", "0"}}, mayHave: true, wantLen: 0},
		{name: "no framing headers: read until eof", body: "chunked upload", wantLen: -1, wantReads: true},
		{name: "no framing, empty body: read until eof", mayHave: true, wantLen: -1, wantReads: true},
		{name: "the host says there is no body: NoBody", wantLen: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHost()
			f.method = "POST"
			f.reqHeader = tt.header
			f.reqBody = []byte(tt.body)
			f.bodyUnknown = tt.mayHave
			serveWith(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.ContentLength != tt.wantLen {
					t.Errorf("ContentLength %d, want %d", r.ContentLength, tt.wantLen)
				}
				b, err := io.ReadAll(r.Body)
				if err != nil || string(b) != tt.body {
					t.Errorf("body %q (err %v), want %q", b, err, tt.body)
				}
			}))
			if got := f.calls["read_body"] > 0; got != tt.wantReads {
				t.Errorf("read_body called: %v, want %v", got, tt.wantReads)
			}
		})
	}
}

func TestResponseToHost(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  uint32
		calls   []string
		body    string
	}{
		{
			name: "implicit 200 and sniffed type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "<!doctype html><p>hi")
			},
			status: 200,
			calls:  []string{"set Content-Type: text/html; charset=utf-8", "body"},
			body:   "<!doctype html><p>hi",
		},
		{
			name: "headers sorted, repeated values added",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-B", "b")
				w.Header().Add("Set-Cookie", "a=1")
				w.Header().Add("Set-Cookie", "b=2")
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusCreated)
				w.Header().Set("X-Late", "ignored") // after WriteHeader, as in net/http
				w.Write([]byte("made"))
			},
			status: 201,
			calls:  []string{"set Content-Type: text/plain", "set Set-Cookie: a=1", "add Set-Cookie: b=2", "set X-B: b", "body"},
			body:   "made",
		},
		{
			name: "wrong content-length dropped",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "99")
				w.Write([]byte("abc"))
			},
			status: 200,
			calls:  []string{"set Content-Type: text/plain", "body"},
			body:   "abc",
		},
		{
			name: "no body on 304",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNotModified)
				if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
					t.Errorf("Write after 304: %v", err)
				}
			},
			status: 304,
		},
		{
			name: "first WriteHeader wins, 1xx ignored",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusTeapot)
				w.WriteHeader(http.StatusOK)
			},
			status: 418,
		},
		{
			name: "http.Error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "nope", http.StatusForbidden)
			},
			status: 403,
			calls:  []string{"set Content-Type: text/plain; charset=utf-8", "set X-Content-Type-Options: nosniff", "body"},
			body:   "nope\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHost()
			if res := serveWith(f, tt.handler); res != 0 {
				t.Fatalf("handle_request = %d, want 0", res)
			}
			if f.status != tt.status {
				t.Errorf("status %d, want %d", f.status, tt.status)
			}
			if !slices.Equal(f.respCalls, tt.calls) {
				t.Errorf("calls\n got %q\nwant %q", f.respCalls, tt.calls)
			}
			if string(f.respBody) != tt.body {
				t.Errorf("body %q, want %q", f.respBody, tt.body)
			}
		})
	}
}

// wrapped is a middleware's ResponseWriter with the Unwrap method
// http.ResponseController uses.
type wrapped struct{ http.ResponseWriter }

func (w wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestNextFallsThroughWithChanges(t *testing.T) {
	f := newFakeHost()
	f.uri = "/app/settings"
	f.reqHeader = [][2]string{{"Host", "a.example"}, {"Accept", "text/html"}, {"X-Drop", "1"}, {"X-Keep", "k"}}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("discarded"))
		r.URL.Path = "/index.html"
		r.Header.Del("X-Drop")
		r.Header.Add("Accept", "*/*")
		r.Header.Set("X-New", "n")
		Next(w)
	})
	res := serveWith(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(wrapped{w}, r)
	}))
	if res != 1 {
		t.Fatalf("handle_request = %d, want 1 (next)", res)
	}
	if len(f.respCalls) != 0 || f.status != 0 {
		t.Errorf("response written on fall-through: status %d calls %q", f.status, f.respCalls)
	}
	want := []string{"add Accept: */*", "remove X-Drop", "set Accept: text/html", "set X-New: n", "uri /index.html"}
	got := slices.Sorted(slices.Values(f.reqCalls))
	if !slices.Equal(got, want) {
		t.Errorf("request changes\n got %q\nwant %q", got, want)
	}
}

func TestNextUnchangedRequestSendsNothing(t *testing.T) {
	f := newFakeHost()
	f.uri = "/a%2Fb?x=1"
	f.reqHeader = [][2]string{{"Host", "a.example"}, {"Accept", "a"}, {"Accept", "b"}}
	if res := serveWith(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Next(w) })); res != 1 {
		t.Fatalf("handle_request = %d, want 1", res)
	}
	if len(f.reqCalls) != 0 {
		t.Errorf("unchanged request sent changes %q", f.reqCalls)
	}
}

func TestNextPanicsOnForeignWriter(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Next with a foreign ResponseWriter did not panic")
		}
	}()
	Next(wrappedNoUnwrap{})
}

type wrappedNoUnwrap struct{ http.ResponseWriter }

func TestPanicBecomes500(t *testing.T) {
	f := newFakeHost()
	f.method, f.uri = "GET", "/boom"
	res := serveWith(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Partial", "1")
		w.Write([]byte("partial"))
		panic("kaboom")
	}))
	if res != 0 || f.status != 500 {
		t.Fatalf("result %d status %d, want 0 and 500", res, f.status)
	}
	if string(f.respBody) != "Internal Server Error\n" || slices.Contains(f.respCalls, "set X-Partial: 1") {
		t.Errorf("partial response leaked: %q %q", f.respCalls, f.respBody)
	}
	if len(f.logs) < 2 || f.logs[0] != "pier: panic serving GET /boom: kaboom" {
		t.Errorf("logs %q", f.logs)
	}
	for _, l := range f.logs {
		if strings.Contains(l, "\n") {
			t.Errorf("log line with a newline: %q", l)
		}
	}
}

func TestHandleNilIsDefaultServeMux(t *testing.T) {
	t.Cleanup(func() { handler.Store(nil) })
	Handle(nil)
	if registered() != http.DefaultServeMux {
		t.Errorf("Handle(nil) registered %v", registered())
	}
	hd := http.NotFoundHandler()
	Handle(hd)
	if registered() == nil || registered() == http.DefaultServeMux {
		t.Errorf("Handle(h) did not replace the handler")
	}
}

func TestNoHandler(t *testing.T) {
	f := newFakeHost()
	if res := serveWith(f, nil); res != 0 || f.status != 500 {
		t.Fatalf("result %d status %d, want 0 and 500", res, f.status)
	}
	if len(f.logs) != 1 || !strings.Contains(f.logs[0], "pier.Handle") {
		t.Errorf("logs %q", f.logs)
	}
}

func TestServerReuseAcrossRequests(t *testing.T) {
	f := newFakeHost()
	s := server{h: f}
	hd := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(w.Header()) != 0 {
			t.Errorf("request %s sees headers of an earlier one: %v", r.URL.Path, w.Header())
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Path", r.URL.Path)
		io.WriteString(w, r.URL.Path)
	})
	for _, p := range []string{"/first-long-path", "/2"} {
		f.uri, f.respCalls, f.respBody = p, nil, nil
		s.serve(hd)
		if string(f.respBody) != p || !slices.Contains(f.respCalls, "set X-Path: "+p) {
			t.Errorf("%s: calls %q body %q", p, f.respCalls, f.respBody)
		}
	}
}

// TestParseRequestURI checks the shortcut against net/url.
func TestParseRequestURI(t *testing.T) {
	uris := []string{"/", "/api/ping", "/a?", "/a??", "/a?b=c&d", "/a%20b", "/a b", "/a#f", "/a?b#c",
		"//x/y", "///x", "/a:b@c;d,e=f+g$h&i~j.k-l_m", "/é", "/a\x7f", "/a?\x01", "*", "", "http://h/p", "/a/./../b", "/a?%zz"}
	for _, u := range uris {
		want, wantErr := url.ParseRequestURI(u)
		got, err := parseRequestURI(u, new(url.URL))
		if (err != nil) != (wantErr != nil) || (err == nil && *got != *want) {
			t.Errorf("%q: got %#v, %v; want %#v, %v", u, got, err, want, wantErr)
		}
	}
	for c := 0; c < 256; c++ {
		for _, u := range []string{"/x" + string(rune(c)) + "y?q", "/x?" + string([]byte{byte(c)})} {
			want, wantErr := url.ParseRequestURI(u)
			got, err := parseRequestURI(u, new(url.URL))
			if (err != nil) != (wantErr != nil) || (err == nil && *got != *want) {
				t.Errorf("%q: got %#v, %v; want %#v, %v", u, got, err, want, wantErr)
			}
		}
	}
}

// TestRequestHostAmongHeaders: Host anywhere in the head (or twice, or
// not at all) is r.Host, never in r.Header, and the values of a repeated
// header around it keep their order.
func TestRequestHostAmongHeaders(t *testing.T) {
	for _, tc := range []struct {
		name     string
		head     [][2]string
		host     string
		multi    string
		nHeaders int
	}{
		{"host only", [][2]string{{"Host", "a.example"}}, "a.example", "", 0},
		{"no host", [][2]string{{"X-Multi", "1"}}, "", "1", 1},
		{"host between repeats", [][2]string{{"X-Multi", "1"}, {"Host", "a.example"}, {"X-Multi", "2"}}, "a.example", "1,2", 1},
		{"host twice: the first", [][2]string{{"host", "a.example"}, {"Accept", "*/*"}, {"Host", "b.example"}, {"X-Multi", "1"}, {"X-Multi", "2"}}, "a.example", "1,2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHost()
			f.uri = "/"
			f.reqHeader = tc.head
			var got *http.Request
			serveWith(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }))
			if got.Host != tc.host || strings.Join(got.Header.Values("X-Multi"), ",") != tc.multi || len(got.Header) != tc.nHeaders {
				t.Errorf("Host %q, X-Multi %q, %d headers (%v); want %q, %q, %d", got.Host, got.Header.Values("X-Multi"), len(got.Header), got.Header, tc.host, tc.multi, tc.nHeaders)
			}
			if _, ok := got.Header["Host"]; ok {
				t.Error("Host in the header map")
			}
		})
	}
}
