package pier

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// wireResponse renders a response in HTTP/1.1 wire format.
func wireResponse(t *testing.T, status int, header http.Header, body string) []byte {
	t.Helper()
	resp := &http.Response{
		StatusCode:    status,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(strings.NewReader(body)),
	}
	var b bytes.Buffer
	if err := resp.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// clientOn returns an http.Client whose transport calls f.
func clientOn(f *fakeHost) *http.Client {
	return &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return roundTrip(f, r)
	})}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (fn roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return fn(r) }

func TestFetchWireFormat(t *testing.T) {
	tests := []struct {
		name    string
		do      func(c *http.Client) (*http.Response, error)
		method  string
		url     string
		body    string
		headers map[string]string
	}{
		{
			name:   "GET",
			do:     func(c *http.Client) (*http.Response, error) { return c.Get("https://api.example.com/v1/x?q=1") },
			method: "GET", url: "https://api.example.com/v1/x?q=1",
		},
		{
			name: "POST with known length",
			do: func(c *http.Client) (*http.Response, error) {
				return c.Post("http://api.example.com:8080/items", "application/json", strings.NewReader(`{"a":1}`))
			},
			method: "POST", url: "http://api.example.com:8080/items", body: `{"a":1}`,
			headers: map[string]string{"Content-Type": "application/json", "Content-Length": "7"},
		},
		{
			name: "POST with unknown length is framed by Content-Length",
			do: func(c *http.Client) (*http.Response, error) {
				pr, pw := io.Pipe()
				go func() { pw.Write([]byte("streamed body")); pw.Close() }()
				req, _ := http.NewRequest("POST", "https://api.example.com/up", pr)
				req.Header.Set("X-Token", "t")
				return c.Do(req)
			},
			method: "POST", url: "https://api.example.com/up", body: "streamed body",
			headers: map[string]string{"Content-Length": "13", "X-Token": "t"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHost()
			f.readChunk = 7
			f.fetchFunc = func([]byte) ([]byte, int32) {
				return wireResponse(t, 201, http.Header{"X-Reply": {"yes"}}, "response body"), 0
			}
			resp, err := tt.do(clientOn(f))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(got) != "response body" || resp.StatusCode != 201 || resp.Header.Get("X-Reply") != "yes" {
				t.Fatalf("response %d %v %q (err %v)", resp.StatusCode, resp.Header, got, err)
			}
			if !slices.Equal(f.closed, []int32{1}) {
				t.Errorf("closed handles %v, want [1]", f.closed)
			}
			if len(f.fetches) != 1 {
				t.Fatalf("%d fetches", len(f.fetches))
			}
			wire := f.fetches[0]
			line, _, _ := bytes.Cut(wire, []byte("\r\n"))
			if want := tt.method + " " + tt.url + " HTTP/1.1"; string(line) != want {
				t.Errorf("request line %q, want %q", line, want)
			}
			if bytes.Contains(wire, []byte("Transfer-Encoding")) {
				t.Errorf("chunked request sent:\n%s", wire)
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
			if err != nil {
				t.Fatalf("host cannot parse the request: %v\n%s", err, wire)
			}
			body, _ := io.ReadAll(req.Body)
			if string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			u, _ := url.Parse(tt.url)
			if req.Host != u.Host {
				t.Errorf("Host %q, want %q", req.Host, u.Host)
			}
			for k, v := range tt.headers {
				if got := req.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestFetchErrors(t *testing.T) {
	for code, want := range map[int32]error{
		-1: ErrSubrequestLimit, -2: ErrEgressDenied, -3: ErrNetwork,
		-4: ErrResponseTooLarge, -5: ErrInvalidRequest,
	} {
		t.Run(want.Error(), func(t *testing.T) {
			f := newFakeHost()
			f.fetchFunc = func([]byte) ([]byte, int32) { return nil, code }
			_, err := clientOn(f).Get("https://example.com/")
			if !errors.Is(err, want) {
				t.Fatalf("err %v, want %v", err, want)
			}
		})
	}
	t.Run("unknown code", func(t *testing.T) {
		if err := hostError(-99); err == nil || !strings.Contains(err.Error(), "-99") {
			t.Errorf("hostError(-99) = %v", err)
		}
	})
	t.Run("not absolute http", func(t *testing.T) {
		f := newFakeHost()
		for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd"} {
			req, _ := http.NewRequest("GET", u, nil)
			if _, err := roundTrip(f, req); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("%s: err %v, want ErrInvalidRequest", u, err)
			}
		}
		if len(f.fetches) != 0 {
			t.Errorf("invalid URLs reached the host")
		}
	})
	t.Run("failure while reading the body", func(t *testing.T) {
		f := newFakeHost()
		wire := wireResponse(t, 200, http.Header{}, strings.Repeat("z", 1000))
		f.fetchFunc = func([]byte) ([]byte, int32) { return wire, 0 }
		f.failAfter = len(wire) - 500
		resp, err := clientOn(f).Get("https://example.com/big")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("reading body: %v, want ErrResponseTooLarge", err)
		}
	})
	t.Run("failure in the header", func(t *testing.T) {
		f := newFakeHost()
		f.fetchFunc = func([]byte) ([]byte, int32) { return wireResponse(t, 200, http.Header{}, "x"), 0 }
		f.failAfter = 5
		_, err := clientOn(f).Get("https://example.com/")
		if !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("err %v, want ErrResponseTooLarge", err)
		}
		if len(f.closed) != 1 {
			t.Errorf("handle not released: %v", f.closed)
		}
	})
	t.Run("no host", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "https://example.com/", nil)
		if _, err := roundTrip(nil, req); !errors.Is(err, ErrNoHost) {
			t.Errorf("err %v", err)
		}
	})
}

func TestFetchRedirectsAreNewFetches(t *testing.T) {
	f := newFakeHost()
	f.fetchFunc = func(req []byte) ([]byte, int32) {
		if bytes.HasPrefix(req, []byte("GET https://a.example/old ")) {
			return wireResponse(t, 302, http.Header{"Location": {"https://b.example/new"}}, ""), 0
		}
		if len(f.fetches) > 2 {
			return nil, -1
		}
		return wireResponse(t, 200, http.Header{}, "moved here"), 0
	}
	resp, err := clientOn(f).Get("https://a.example/old")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "moved here" || len(f.fetches) != 2 {
		t.Errorf("body %q after %d fetches", b, len(f.fetches))
	}
}

func TestAsset(t *testing.T) {
	f := newFakeHost()
	f.readChunk = 3
	f.assets = map[string]string{"/logo.txt": string(wireResponse(t, 200, http.Header{"Content-Type": {"text/plain"}, "Cache-Control": {"max-age=60"}}, "LOGO"))}
	resp, err := asset(f, "/logo.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "LOGO" || resp.Header.Get("Cache-Control") != "max-age=60" {
		t.Errorf("asset: %d %v %q", resp.StatusCode, resp.Header, b)
	}
	if _, err := asset(f, "/missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing asset: %v", err)
	}
	if _, err := asset(nil, "/x"); !errors.Is(err, ErrNoHost) {
		t.Errorf("no host: %v", err)
	}
}

func TestVar(t *testing.T) {
	f := newFakeHost()
	long := strings.Repeat("v", 1000)
	f.vars = map[string]string{"SHORT": "s", "EMPTY": "", "LONG": long}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"SHORT", "s", true}, {"EMPTY", "", true}, {"LONG", long, true}, {"UNSET", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := getVar(f, tt.name)
			if got != tt.want || ok != tt.ok {
				t.Errorf("getVar(%q) = %.20q, %v; want %.20q, %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLog(t *testing.T) {
	f := newFakeHost()
	logLines(f, "one\r\ntwo\n")
	lg := slog.New(newLogHandler(f, nil))
	lg.Info("served", "path", "/x", "status", 200)
	lg.Debug("hidden at the default level")
	lg.With("req", 7).Warn("slow", "ms", 12)
	want := []string{
		"one", "two",
		`level=INFO msg=served path=/x status=200`,
		`level=WARN msg=slow req=7 ms=12`,
	}
	if !slices.Equal(f.logs, want) {
		t.Errorf("log lines\n got %q\nwant %q", f.logs, want)
	}
}

func TestResponseExpiresWithItsRequest(t *testing.T) {
	f := newFakeHost()
	f.fetchFunc = func([]byte) ([]byte, int32) {
		return wireResponse(t, 200, http.Header{}, strings.Repeat("k", 10000)), 0
	}
	var kept *http.Response
	serveWith(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := clientOn(f).Get("https://example.com/")
		if err != nil {
			t.Fatal(err)
		}
		kept = resp
	}))
	// The next request's handle 1 must not be read through the old body.
	f.nextID = 0
	serveWith(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := clientOn(f).Get("https://example.com/other"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(kept.Body); !errors.Is(err, errExpired) {
			t.Errorf("reading a body kept from an earlier request: %v, want errExpired", err)
		}
		kept.Body.Close()
	}))
	if slices.Contains(f.closed, 1) {
		t.Errorf("closing the expired body released the new request's handle: %v", f.closed)
	}
}
