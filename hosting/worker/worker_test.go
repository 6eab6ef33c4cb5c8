package worker

//go:generate sh testdata/build.sh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// fakeHost is a Host whose calls are func fields; it records log lines.
type fakeHost struct {
	fetch func(ctx context.Context, req *http.Request) (*http.Response, error)
	asset func(ctx context.Context, path string) (*http.Response, error)

	mu    sync.Mutex
	lines []string
}

func (h *fakeHost) Fetch(ctx context.Context, req *http.Request) (*http.Response, error) {
	if h.fetch == nil {
		return nil, errors.New("no network in this test")
	}
	return h.fetch(ctx, req)
}

func (h *fakeHost) Asset(ctx context.Context, path string) (*http.Response, error) {
	if h.asset == nil {
		return nil, ErrAssetNotFound
	}
	return h.asset(ctx, path)
}

func (h *fakeHost) Log(line string) {
	h.mu.Lock()
	h.lines = append(h.lines, line)
	h.mu.Unlock()
}

func (h *fakeHost) logged() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.lines)
}

func newRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	rt, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

func guest(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newWorker(t testing.TB, rt *Runtime, name string, vars map[string]string, lim Limits) *Worker {
	t.Helper()
	w, err := rt.NewWorker(context.Background(), guest(t, name), vars, lim)
	if err != nil {
		t.Fatalf("NewWorker(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	return w
}

func response(status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// noNext fails the test if the guest falls through.
func noNext(t *testing.T) http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next called") })
}

func TestValidate(t *testing.T) {
	rt := newRuntime(t, Config{})
	small := newRuntime(t, Config{MaxModuleSize: 64})
	tests := []struct {
		name    string
		rt      *Runtime
		wasm    []byte
		wantMsg string // "" = valid
	}{
		{name: "reactor", wasm: guest(t, "hello")},
		{name: "reactor with _initialize and handle_response", wasm: guest(t, "nextbuf")},
		{name: "wagi command", wasm: guest(t, "cgi")},
		{name: "not wasm", wasm: []byte("\x7fELF not a module"), wantMsg: "not a valid WebAssembly module"},
		{name: "empty", wasm: nil, wantMsg: "not a valid WebAssembly module"},
		{name: "too large", rt: small, wasm: guest(t, "hello"), wantMsg: "the limit is 64"},
		{name: "foreign import module", wasm: guest(t, "badimport"), wantMsg: `imports from module "env"`},
		{name: "unknown http_handler function", wasm: guest(t, "unknownfunc"), wantMsg: "unknown function http_handler.send_response"},
		{name: "wrong import signature", wasm: guest(t, "badsig"), wantMsg: "http_handler.write_body with the wrong signature"},
		{name: "no entry point", wasm: guest(t, "noentry"), wantMsg: "exports neither handle_request"},
		{name: "start section", wasm: guest(t, "start"), wantMsg: "has a start function"},
		{name: "does not validate", wasm: guest(t, "typeerror"), wantMsg: "the module does not compile: "},
		{name: "wrong handle_request signature", wasm: guest(t, "badreturn"), wantMsg: "handle_request with the wrong signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rt
			if r == nil {
				r = rt
			}
			err := r.Validate(context.Background(), tt.wasm)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var me *ModuleError
			if !errors.As(err, &me) {
				t.Fatalf("Validate = %v, want a *ModuleError", err)
			}
			if !strings.Contains(me.Msg, tt.wantMsg) {
				t.Errorf("Msg = %q, want it to contain %q", me.Msg, tt.wantMsg)
			}
		})
	}
}

func TestServe(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 2})
	type check func(t *testing.T, rec *httptest.ResponseRecorder, res Result, host *fakeHost)
	bodyIs := func(want string) check {
		return func(t *testing.T, rec *httptest.ResponseRecorder, _ Result, _ *fakeHost) {
			if got := rec.Body.String(); got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
		}
	}
	tests := []struct {
		name        string
		guest       string
		vars        map[string]string
		lim         Limits
		req         func() *http.Request
		host        *fakeHost
		next        http.Handler
		wantStatus  int
		wantOutcome string
		check       check
	}{
		{
			name:        "hello",
			guest:       "hello",
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, res Result, _ *fakeHost) {
				if got := rec.Body.String(); got != "hello world\n" {
					t.Errorf("body = %q", got)
				}
				if got := rec.Header().Get("Content-Type"); got != "text/plain" {
					t.Errorf("Content-Type = %q", got)
				}
				if got := rec.Header().Get("X-Hello"); got != "world" {
					t.Errorf("X-Hello = %q", got)
				}
				// net/http frames a body this small itself
				// (TestFramingOverRealServer).
				if got := rec.Header().Get("Content-Length"); got != "" {
					t.Errorf("Content-Length = %q, want none", got)
				}
				if res.CPU <= 0 {
					t.Errorf("CPU = %v, want > 0", res.CPU)
				}
			},
		},
		{
			name:  "echo",
			guest: "echo",
			req: func() *http.Request {
				r := httptest.NewRequest("PUT", "http://site.example/a/b?c=d&e", strings.NewReader("the request body, longer than 7 bytes"))
				r.Header.Add("X-Echo", "one")
				r.Header.Add("X-Echo", "two")
				r.Header.Set("Accept", "*/*")
				return r
			},
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check: bodyIs("PUT /a/b?c=d&e HTTP/1.1\none\x00two\x00\nAccept\x00X-Echo\x00Host\x00\n" +
				"the request body, longer than 7 bytes"),
		},
		{
			name:  "echo of an unsized body",
			guest: "echo",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "http://site.example/", io.MultiReader(strings.NewReader("abc"), strings.NewReader("defghijkl")))
				r.ContentLength = -1
				return r
			},
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check:       bodyIs("POST / HTTP/1.1\n\nHost\x00\nabcdefghijkl"),
		},
		{
			name:        "get_config, get_var and logs",
			guest:       "vars",
			vars:        map[string]string{"greeting": "hi", "b": "x\"y"},
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, _ Result, host *fakeHost) {
				if got, want := rec.Body.String(), `{"b":"x\"y","greeting":"hi"}|hi|unset`; got != want {
					t.Errorf("body = %q, want %q", got, want)
				}
				if got, want := host.logged(), []string{"from http_handler", "from pier"}; !slices.Equal(got, want) {
					t.Errorf("log = %q, want %q", got, want)
				}
			},
		},
		{
			name:  "fetch",
			guest: "fetch",
			host: &fakeHost{fetch: func(_ context.Context, r *http.Request) (*http.Response, error) {
				body, _ := io.ReadAll(r.Body)
				if r.Method != "POST" || r.URL.String() != "https://api.example.com/x?y=1" || r.Host != "api.example.com" ||
					r.Header.Get("X-T") != "1" || string(body) != "hello" || r.ContentLength != 5 || r.RequestURI != "" {
					return nil, fmt.Errorf("unexpected request %s %s host=%s header=%v body=%q", r.Method, r.URL, r.Host, r.Header, body)
				}
				return response(200, http.Header{"X-Up": {"1"}, "Transfer-Encoding": {"chunked"}}, "upstream body"), nil
			}},
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, res Result, host *fakeHost) {
				resp, err := http.ReadResponse(bufio.NewReader(rec.Body), nil)
				if err != nil {
					t.Fatalf("guest body is not an HTTP response: %v (log %q)", err, host.logged())
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || resp.Header.Get("X-Up") != "1" || resp.ContentLength != 13 || string(body) != "upstream body" {
					t.Errorf("fetched response = %d %v %q", resp.StatusCode, resp.Header, body)
				}
				if res.SubRequests != 1 {
					t.Errorf("SubRequests = %d, want 1", res.SubRequests)
				}
			},
		},
		{
			name:  "fetch denied by egress policy",
			guest: "fetch",
			host: &fakeHost{fetch: func(context.Context, *http.Request) (*http.Response, error) {
				return nil, fmt.Errorf("dial 127.0.0.1: %w", ErrEgressDenied)
			}},
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check:       bodyIs("E2"),
		},
		{
			name:  "fetch network error",
			guest: "fetch",
			host: &fakeHost{fetch: func(context.Context, *http.Request) (*http.Response, error) {
				return nil, errors.New("connection refused")
			}},
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check:       bodyIs("E3"),
		},
		{
			name:  "fetch response too large",
			guest: "fetch",
			lim:   Limits{MaxResponseBody: 8},
			host: &fakeHost{fetch: func(context.Context, *http.Request) (*http.Response, error) {
				return response(200, nil, "more than eight bytes"), nil
			}},
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check:       bodyIs("E4"),
		},
		{
			name:  "subrequest limit",
			guest: "flood",
			lim:   Limits{SubRequests: 3},
			host: &fakeHost{fetch: func(context.Context, *http.Request) (*http.Response, error) {
				return response(204, nil, ""), nil
			}},
			wantStatus:  200,
			wantOutcome: OutcomeExceededSubrequests,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, res Result, _ *fakeHost) {
				if got := rec.Body.String(); got != "3|1" {
					t.Errorf("body = %q, want 3 fetches then -1", got)
				}
				if res.SubRequests != 4 {
					t.Errorf("SubRequests = %d, want 4", res.SubRequests)
				}
			},
		},
		{
			name:  "no subrequests allowed",
			guest: "flood",
			lim:   Limits{SubRequests: -1},
			host: &fakeHost{fetch: func(context.Context, *http.Request) (*http.Response, error) {
				return nil, errors.New("must not be called")
			}},
			wantStatus:  200,
			wantOutcome: OutcomeExceededSubrequests,
			check:       bodyIs("0|1"),
		},
		{
			name:  "asset",
			guest: "asset",
			host: &fakeHost{asset: func(_ context.Context, path string) (*http.Response, error) {
				if path != "/style.css" {
					return nil, fmt.Errorf("%s: %w", path, ErrAssetNotFound)
				}
				return response(200, http.Header{"Content-Type": {"text/css"}}, "body{}"), nil
			}},
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check:       bodyIs("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/css\r\n\r\nbody{}|notfound"),
		},
		{
			name:  "next with rewritten request",
			guest: "next",
			req: func() *http.Request {
				return httptest.NewRequest("GET", "http://site.example/original", nil)
			},
			next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/rewritten" || r.URL.RawQuery != "q=1" || r.Header.Get("X-From-Worker") != "yes" {
					w.WriteHeader(500)
					fmt.Fprintf(w, "next saw %s %v", r.URL, r.Header)
					return
				}
				w.WriteHeader(404)
				io.WriteString(w, "static 404")
			}),
			wantStatus:  404,
			wantOutcome: OutcomeOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, _ Result, host *fakeHost) {
				if got := rec.Body.String(); got != "static 404" {
					t.Errorf("body = %q", got)
				}
				if got, want := host.logged(), []string{"handle_response saw 404"}; !slices.Equal(got, want) {
					t.Errorf("log = %q, want %q", got, want)
				}
			},
		},
		{
			name:  "next with changed method, headers and body",
			guest: "mutate",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "http://site.example/", strings.NewReader("old body"))
				r.Header.Set("X-Remove", "1")
				return r
			},
			next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if r.Method != "PATCH" || r.Host != "other.example" || r.Header.Get("X-Remove") != "" ||
					!slices.Equal(r.Header["X-Added"], []string{"a", "b"}) || string(body) != "new body" || r.ContentLength != 8 {
					w.WriteHeader(500)
					fmt.Fprintf(w, "next saw %s %s %v %q", r.Method, r.Host, r.Header, body)
					return
				}
				w.WriteHeader(204)
			}),
			wantStatus:  204,
			wantOutcome: OutcomeOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, _ Result, _ *fakeHost) {
				if got := rec.Header().Get("X-Source"); got != "192.0.2.1:1234" {
					t.Errorf("X-Source = %q (body %q)", got, rec.Body)
				}
			},
		},
		{
			name:  "next with buffered response",
			guest: "nextbuf",
			next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Static", "1")
				io.WriteString(w, "asset")
			}),
			wantStatus:  299,
			wantOutcome: OutcomeOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, _ Result, _ *fakeHost) {
				if got := rec.Body.String(); got != "<<asset" {
					t.Errorf("body = %q", got)
				}
				if rec.Header().Get("X-Static") != "1" || rec.Header().Get("X-Post") != "1" {
					t.Errorf("header = %v", rec.Header())
				}
			},
		},
		{
			// The guest answers, but the refusal is a violation, counted
			// and logged as exceededMemory.
			name:        "memory.grow past the cap fails in the guest",
			guest:       "grow",
			lim:         Limits{MemoryBytes: 1 << 20},
			wantStatus:  200,
			wantOutcome: OutcomeExceededMemory,
			check:       bodyIs("refused"),
		},
		{
			name:        "a guest trapping at the memory cap",
			guest:       "growtrap",
			lim:         Limits{MemoryBytes: 1 << 20},
			wantStatus:  500,
			wantOutcome: OutcomeExceededMemory,
			check:       errorCode("worker_memory_exceeded"),
		},
		{
			name:  "request body over the cap (Content-Length)",
			guest: "echo",
			lim:   Limits{MaxRequestBody: 10},
			req: func() *http.Request {
				return httptest.NewRequest("POST", "http://site.example/", strings.NewReader("more than ten bytes"))
			},
			wantStatus:  413,
			wantOutcome: OutcomeRequestTooLarge,
			check:       errorCode("request_too_large"),
		},
		{
			name:  "request body over the cap (unsized)",
			guest: "echo",
			lim:   Limits{MaxRequestBody: 10},
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "http://site.example/", strings.NewReader("more than ten bytes"))
				r.ContentLength = -1
				return r
			},
			wantStatus:  413,
			wantOutcome: OutcomeRequestTooLarge,
			check:       errorCode("request_too_large"),
		},
		{
			name:        "response body over the cap",
			guest:       "bigbody",
			lim:         Limits{MaxResponseBody: 10 << 10},
			wantStatus:  502,
			wantOutcome: OutcomeResponseTooLarge,
			check:       errorCode("worker_response_too_large"),
		},
		{
			name:        "response body under the cap",
			guest:       "bigbody",
			wantStatus:  200,
			wantOutcome: OutcomeOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, _ Result, _ *fakeHost) {
				if rec.Body.Len() != 100<<10 {
					t.Errorf("body is %d bytes", rec.Body.Len())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorker(t, rt, tt.guest, tt.vars, tt.lim)
			req := httptest.NewRequest("GET", "http://site.example/", nil)
			if tt.req != nil {
				req = tt.req()
			}
			host := tt.host
			if host == nil {
				host = &fakeHost{}
			}
			next := tt.next
			if next == nil {
				next = noNext(t)
			}
			rec := httptest.NewRecorder()
			res := w.Serve(rec, req, host, next)
			if got := answered(t, rec, res); got != tt.wantStatus || res.Outcome != tt.wantOutcome {
				t.Fatalf("status %d outcome %q (err %v), want %d %q; body %q", got, res.Outcome, res.Err, tt.wantStatus, tt.wantOutcome, rec.Body)
			}
			if res.Status != tt.wantStatus {
				t.Errorf("Result.Status = %d, want %d", res.Status, tt.wantStatus)
			}
			if tt.check != nil {
				tt.check(t, rec, res, host)
			}
		})
	}
}

// answered returns the status the client gets: the one Serve wrote, or
// the one the caller answers a failure with (when Serve wrote nothing).
func answered(t *testing.T, rec *httptest.ResponseRecorder, res Result) int {
	t.Helper()
	if res.Code == "" {
		return rec.Code
	}
	if rec.Body.Len() > 0 || len(rec.Header()) > 0 {
		t.Errorf("Serve failed with %s but wrote %v %q", res.Code, rec.Header(), rec.Body)
	}
	return res.Status
}

// errorCode checks that Serve failed with code and left the response to
// its caller.
func errorCode(code string) func(t *testing.T, rec *httptest.ResponseRecorder, res Result, host *fakeHost) {
	return func(t *testing.T, rec *httptest.ResponseRecorder, res Result, _ *fakeHost) {
		t.Helper()
		if res.Code != code || res.Message == "" || res.Detail == "" {
			t.Errorf("Result = code %q message %q detail %q, want an error with code %s", res.Code, res.Message, res.Detail, code)
		}
		if rec.Body.Len() > 0 {
			t.Errorf("Serve wrote %q; the caller answers failures", rec.Body)
		}
	}
}

// TestRunaway checks that guests that never finish are stopped: an infinite
// loop, unbounded recursion and an exponential call tree, in reactors and
// WAGI commands, and that a stopped instance is not reused.
func TestRunaway(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	tests := []struct {
		guest string
		want  []string // acceptable outcomes
	}{
		{"loop", []string{OutcomeExceededCPU}},
		{"fib", []string{OutcomeExceededCPU}},
		{"recurse", []string{OutcomeException, OutcomeExceededCPU}},
		{"cgiloop", []string{OutcomeExceededCPU}},
	}
	for _, tt := range tests {
		t.Run(tt.guest, func(t *testing.T) {
			w := newWorker(t, rt, tt.guest, nil, Limits{CPU: 20 * time.Millisecond})
			for i := range 3 {
				rec := httptest.NewRecorder()
				res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
				if !slices.Contains(tt.want, res.Outcome) {
					t.Fatalf("request %d: outcome %q (%v), want one of %q", i, res.Outcome, res.Err, tt.want)
				}
				wantStatus := map[string]int{OutcomeExceededCPU: 503, OutcomeException: 500}[res.Outcome]
				if got := answered(t, rec, res); got != wantStatus {
					t.Errorf("request %d: status %d, want %d", i, got, wantStatus)
				}
				if res.Outcome == OutcomeExceededCPU {
					errorCode("worker_cpu_exceeded")(t, rec, res, nil)
				}
			}
		})
	}
}

// TestRunawayDuringGC stops runaway guests while the garbage collector runs
// continuously: a stop-the-world pause that begins during a spinning guest
// waits for it, so only an interrupt the Go scheduler need not run (the
// kernel timer) can end it. With a Go timer this test hangs.
func TestRunawayDuringGC(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			default:
				runtime.GC()
			}
		}
	}()
	// An infinite loop, an exponential call tree and unbounded recursion
	// (which may hit the stack limit first).
	for _, tc := range []struct {
		guest string
		want  []string
	}{
		{"loop", []string{OutcomeExceededCPU}},
		{"fib", []string{OutcomeExceededCPU}},
		{"recurse", []string{OutcomeException, OutcomeExceededCPU}},
	} {
		w := newWorker(t, rt, tc.guest, nil, Limits{CPU: 10 * time.Millisecond})
		for i := range 10 {
			res := w.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
			if !slices.Contains(tc.want, res.Outcome) {
				t.Fatalf("%s request %d: outcome %q (%v), want one of %v", tc.guest, i, res.Outcome, res.Err, tc.want)
			}
		}
	}
}

// TestConcurrentRunaways runs more spinning guests at once than there are
// Ps, so no P is left for a timer goroutine; all must be stopped.
func TestConcurrentRunaways(t *testing.T) {
	n := runtime.GOMAXPROCS(0) + 2
	rt := newRuntime(t, Config{PoolSize: n})
	w := newWorker(t, rt, "loop", nil, Limits{CPU: 20 * time.Millisecond})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for range 3 {
				res := w.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
				if res.Outcome != OutcomeExceededCPU {
					t.Errorf("outcome %q (%v)", res.Outcome, res.Err)
				}
			}
		})
	}
	wg.Wait()
}

// TestFetchPausesCPU: time spent waiting on fetch does not count.
func TestFetchPausesCPU(t *testing.T) {
	rt := newRuntime(t, Config{})
	w := newWorker(t, rt, "fetch", nil, Limits{CPU: 5 * time.Millisecond})
	host := &fakeHost{fetch: func(ctx context.Context, _ *http.Request) (*http.Response, error) {
		select {
		case <-time.After(50 * time.Millisecond): // ten times the budget
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return response(200, nil, "late"), nil
	}}
	rec := httptest.NewRecorder()
	res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), host, noNext(t))
	if res.Outcome != OutcomeOK || !strings.HasSuffix(rec.Body.String(), "late") {
		t.Fatalf("outcome %q (%v), body %q", res.Outcome, res.Err, rec.Body)
	}
	if res.CPU >= 50*time.Millisecond {
		t.Errorf("CPU = %v includes the fetch wait", res.CPU)
	}
}

// TestTrappedInstanceDiscarded: after a trap the next request gets a fresh
// instance (its per-instance counter starts again at 1), while a healthy
// instance is reused.
func TestTrappedInstanceDiscarded(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "counter", nil, Limits{})
	steps := []struct {
		name        string
		trap        bool
		wantOutcome string
		wantBody    string
	}{
		{"first request", false, OutcomeOK, "1"},
		{"same instance reused", false, OutcomeOK, "2"},
		{"trap", true, OutcomeException, ""},
		{"fresh instance after the trap", false, OutcomeOK, "1"},
		{"fresh instance reused", false, OutcomeOK, "2"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if s.trap {
				req.Header.Set("X-Trap", "1")
			}
			host := &fakeHost{}
			rec := httptest.NewRecorder()
			res := w.Serve(rec, req, host, noNext(t))
			if res.Outcome != s.wantOutcome {
				t.Fatalf("outcome %q (%v), want %q", res.Outcome, res.Err, s.wantOutcome)
			}
			if s.wantBody != "" && rec.Body.String() != s.wantBody {
				t.Errorf("body %q, want %q", rec.Body, s.wantBody)
			}
			if s.trap {
				errorCode("worker_exception")(t, rec, res, host)
				if want := "worker failed: wasm error: unreachable"; res.Detail != want {
					t.Errorf("Detail = %q, want %q", res.Detail, want)
				}
				if l := host.logged(); len(l) != 0 {
					t.Errorf("log = %q: the failure is reported once, in the Result", l)
				}
			}
		})
	}
}

func TestWAGI(t *testing.T) {
	rt := newRuntime(t, Config{})
	t.Run("cgi response, environment, stdin and stderr", func(t *testing.T) {
		w := newWorker(t, rt, "cgi", map[string]string{"GREETING": "hi", "REQUEST_METHOD": "spoofed"}, Limits{})
		req := httptest.NewRequest("POST", "http://site.example:8080/p/q?a=1", strings.NewReader("ping"))
		req.Header.Set("X-Test", "v")
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Proxy", "http://evil")
		host := &fakeHost{}
		rec := httptest.NewRecorder()
		res := w.Serve(rec, req, host, noNext(t))
		if res.Outcome != OutcomeOK || rec.Code != 201 {
			t.Fatalf("outcome %q (%v) status %d body %q", res.Outcome, res.Err, rec.Code, rec.Body)
		}
		if rec.Header().Get("X-Cgi") != "1" || rec.Header().Get("Content-Type") != "text/plain" || rec.Header().Get("Status") != "" {
			t.Errorf("header = %v", rec.Header())
		}
		body := rec.Body.String()
		if !strings.HasSuffix(body, "ping") {
			t.Errorf("body %q does not end with stdin", body)
		}
		env := strings.Split(strings.TrimSuffix(body, "ping"), "\x00")
		for _, want := range []string{"REQUEST_METHOD=POST", "GREETING=hi", "QUERY_STRING=a=1", "PATH_INFO=/p/q",
			"HTTP_X_TEST=v", "CONTENT_LENGTH=4", "CONTENT_TYPE=text/plain", "SERVER_NAME=site.example", "SERVER_PORT=8080",
			"REQUEST_URI=/p/q?a=1", "GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1", "REMOTE_ADDR=192.0.2.1"} {
			if !slices.Contains(env, want) {
				t.Errorf("environment lacks %s: %q", want, env)
			}
		}
		for _, bad := range []string{"REQUEST_METHOD=spoofed", "HTTP_PROXY=http://evil"} {
			if slices.Contains(env, bad) {
				t.Errorf("environment has %s", bad)
			}
		}
		if got, want := host.logged(), []string{"cgi log line", "second line", "partial"}; !slices.Equal(got, want) {
			t.Errorf("log = %q, want %q", got, want)
		}
	})
	t.Run("location without status redirects", func(t *testing.T) {
		w := newWorker(t, rt, "cgiredirect", nil, Limits{})
		rec := httptest.NewRecorder()
		res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
		if res.Outcome != OutcomeOK || rec.Code != 302 || rec.Header().Get("Location") != "/elsewhere" {
			t.Fatalf("outcome %q (%v) status %d header %v", res.Outcome, res.Err, rec.Code, rec.Header())
		}
	})
	t.Run("non-zero exit", func(t *testing.T) {
		w := newWorker(t, rt, "cgiexit", nil, Limits{})
		rec := httptest.NewRecorder()
		res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
		if got := answered(t, rec, res); res.Outcome != OutcomeException || got != 500 {
			t.Fatalf("outcome %q (%v) status %d", res.Outcome, res.Err, got)
		}
	})
	t.Run("request body over the cap", func(t *testing.T) {
		w := newWorker(t, rt, "cgi", nil, Limits{MaxRequestBody: 3})
		req := httptest.NewRequest("POST", "/", strings.NewReader("ping"))
		req.ContentLength = -1
		rec := httptest.NewRecorder()
		if res := w.Serve(rec, req, &fakeHost{}, noNext(t)); res.Outcome != OutcomeRequestTooLarge || answered(t, rec, res) != 413 {
			t.Fatalf("outcome %q status %d", res.Outcome, res.Status)
		}
	})
	t.Run("stdout over the cap", func(t *testing.T) {
		w := newWorker(t, rt, "cgi", nil, Limits{MaxResponseBody: 1})
		req := httptest.NewRequest("POST", "/", bytes.NewReader(bytes.Repeat([]byte("x"), 200<<10)))
		rec := httptest.NewRecorder()
		if res := w.Serve(rec, req, &fakeHost{}, noNext(t)); res.Outcome != OutcomeResponseTooLarge && res.Outcome != OutcomeException {
			t.Fatalf("outcome %q (%v) status %d", res.Outcome, res.Err, rec.Code)
		}
	})
}

// TestConcurrent serves many requests at once on one Worker; each must get
// its own body back (run with -race).
func TestConcurrent(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 3})
	// A CPU budget no echo comes near, even with 12 goroutines under
	// -race on a busy machine (the CPU limit is not what this test is
	// about; TestRunaway and its neighbours are).
	w := newWorker(t, rt, "echo", nil, Limits{CPU: 10 * time.Second})
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			for i := range 40 {
				body := fmt.Sprintf("goroutine %d request %d", g, i)
				rec := httptest.NewRecorder()
				res := w.Serve(rec, httptest.NewRequest("POST", "/", strings.NewReader(body)), &fakeHost{}, noNext(t))
				if res.Outcome != OutcomeOK || !strings.HasSuffix(rec.Body.String(), "\n"+body) {
					t.Errorf("outcome %q (%v), body %q, want it to end with %q", res.Outcome, res.Err, rec.Body, body)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestClosedWorker(t *testing.T) {
	rt := newRuntime(t, Config{})
	w := newWorker(t, rt, "hello", nil, Limits{})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
	if got := answered(t, rec, res); got != 503 || res.Outcome != OutcomeCanceled {
		t.Fatalf("status %d outcome %q", got, res.Outcome)
	}
}

// TestTrimIdle closes idle instances beyond one, and keeps recent ones.
func TestTrimIdle(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 4, IdleTimeout: time.Hour})
	tests := []struct {
		name     string
		stale    int // instances idle for longer than IdleTimeout
		recent   int
		wantKept int
	}{
		{"all stale keeps one", 3, 0, 1},
		{"recent ones stay", 2, 2, 2},
		{"nothing stale", 0, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorker(t, rt, "hello", nil, Limits{})
			ctx := context.Background()
			var ins []*instance
			for range tt.stale + tt.recent {
				in, err := w.acquire(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ins = append(ins, in)
			}
			for i, in := range ins {
				w.release(in, true)
				if i < tt.stale {
					in.idleSince = mono() - 2*time.Hour
				}
			}
			w.trimIdle()
			if len(w.free) != tt.wantKept || len(w.slots) != tt.wantKept {
				t.Fatalf("%d idle instances and %d slots taken, want %d", len(w.free), len(w.slots), tt.wantKept)
			}
			parked := 0
			for _, in := range ins {
				if in.meter.parked {
					parked++
				}
			}
			if wantParked := min(tt.stale, 1) * (1 - min(tt.recent, 1)); parked != wantParked {
				t.Errorf("%d kept instances parked their CPU meter's threads, want %d", parked, wantParked)
			}
			rec := httptest.NewRecorder()
			if res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t)); res.Outcome != OutcomeOK {
				t.Fatalf("after trimming: %q (%v)", res.Outcome, res.Err)
			}
			for _, in := range ins {
				if in.meter.parked {
					t.Error("an instance still parked after serving") // only one is left: it served
				}
			}
		})
	}
}

// TestParkedMeterStopsRunaways parks an idle runaway instance's meter (as
// trimIdle does) and checks that its next request is still stopped on
// time: resume starts the kernel timer again.
func TestParkedMeterStopsRunaways(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "cpu", nil, Limits{CPU: 10 * time.Millisecond})
	in, err := w.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	in.meter.park()
	if !in.meter.parked {
		t.Skip("no kernel timer to park")
	}
	work := in.mod.ExportedFunction("work")
	var callErr error
	fired, used, err := in.run(context.Background(), 10*time.Millisecond, true, func() {
		_, callErr = work.Call(in.ctx, 2_000_000_000)
	})
	resumedWithNone := in.meter.kt == nil && in.meter.timer == nil
	w.release(in, false) // closed: its interrupt source is released
	if err != nil || !fired || !errors.Is(callErr, errCPULimit) {
		t.Fatalf("a long computation after parking: fired %v, err %v, %v", fired, err, callErr)
	}
	if resumedWithNone {
		t.Fatal("resumed with neither timer")
	}
	if used > 20*time.Millisecond {
		t.Errorf("stopped after %v of CPU, budget 10ms", used)
	}
}

// TestBusyPool: with the one pooled instance held by a slow request (a
// fetch that does not answer), the next request gets a temporary instance
// instead of queueing; a third waits, since at most PoolSize temporary
// instances live at once; temporary instances are closed afterwards.
func TestBusyPool(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "fetch", nil, Limits{})
	entered := make(chan struct{})
	proceed := make(chan struct{})
	var mu sync.Mutex
	inFetch, maxInFetch := 0, 0
	host := &fakeHost{fetch: func(ctx context.Context, _ *http.Request) (*http.Response, error) {
		mu.Lock()
		inFetch++
		maxInFetch = max(maxInFetch, inFetch)
		mu.Unlock()
		entered <- struct{}{}
		<-proceed
		mu.Lock()
		inFetch--
		mu.Unlock()
		return response(200, nil, "slow"), nil
	}}
	results := make(chan Result, 3)
	serve := func() {
		rec := httptest.NewRecorder()
		res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), host, nil)
		if res.Outcome == OutcomeOK && !strings.HasSuffix(rec.Body.String(), "slow") {
			res.Outcome = "body " + rec.Body.String()
		}
		results <- res
	}
	waitEntered := func(what string) {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(testenv.Patience):
			t.Fatalf("%s never reached its fetch", what)
		}
	}
	go serve()
	waitEntered("the first request")
	go serve()
	waitEntered("the second request (queued behind the first)")
	if len(w.slots) != 1 || len(w.extra) != 1 {
		t.Fatalf("%d pooled and %d temporary instances, want 1 and 1", len(w.slots), len(w.extra))
	}
	go serve() // no instance for it until one of the others finishes
	// Give it time to overshoot the bound (it would count a third request
	// in fetch): a slow machine can only hide a failure, not cause one.
	time.Sleep(20 * busyWait)
	proceed <- struct{}{}
	waitEntered("the third request")
	proceed <- struct{}{}
	proceed <- struct{}{}
	for range 3 {
		if res := <-results; res.Outcome != OutcomeOK {
			t.Errorf("outcome %q (%v)", res.Outcome, res.Err)
		}
	}
	if maxInFetch != 2 {
		t.Errorf("%d requests ran at once, want 2 (1 pooled + 1 temporary)", maxInFetch)
	}
	if len(w.slots) != 1 || len(w.extra) != 0 || len(w.free) != 1 {
		t.Errorf("after the burst: %d pooled (%d idle), %d temporary instances; want 1 (1), 0", len(w.slots), len(w.free), len(w.extra))
	}
}

// TestRequestHeadAndSendResponse covers pier.request_head and
// pier.send_response, the Go SDK's batched calls.
func TestRequestHeadAndSendResponse(t *testing.T) {
	rt := newRuntime(t, Config{})
	w := newWorker(t, rt, "head", nil, Limits{})
	req := httptest.NewRequest("GET", "http://site.example/p?q=1", nil)
	req.Header["X-Multi"] = []string{"a", "b"}
	req.RemoteAddr = "192.0.2.7:1234"
	for range 2 { // the second time with the interned names and values
		rec := httptest.NewRecorder()
		res := w.Serve(rec, req, &fakeHost{}, nil)
		if res.Outcome != OutcomeOK || rec.Code != http.StatusCreated {
			t.Fatalf("outcome %q (%v) status %d", res.Outcome, res.Err, rec.Code)
		}
		if got := rec.Header()["X-A"]; !slices.Equal(got, []string{"1", "2"}) || rec.Header().Get("Content-Type") != "text/plain" {
			t.Errorf("response header %v", rec.Header())
		}
		fields := strings.Split(strings.TrimSuffix(rec.Body.String(), "\x00"), "\x00")
		if len(fields) < 5 || !slices.Equal(fields[:5], []string{"GET", "/p?q=1", "HTTP/1.1", "192.0.2.7:1234", "0"}) {
			t.Fatalf("head %q", fields)
		}
		got := map[string][]string{}
		for i := 5; i+1 < len(fields); i += 2 {
			got[fields[i]] = append(got[fields[i]], fields[i+1])
		}
		want := map[string][]string{"X-Multi": {"a", "b"}, "Host": {"site.example"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("headers %q, want %q", got, want)
		}
	}
	post := httptest.NewRequest("POST", "http://site.example/", strings.NewReader("x"))
	if res := w.Serve(httptest.NewRecorder(), post, &fakeHost{}, nil); res.Outcome != OutcomeException {
		t.Errorf("invalid header name: outcome %q, want %q", res.Outcome, OutcomeException)
	}
}

// TestRefusedInstanceNotTrimmed: an instance started for a request that
// was then refused (no run slot in time) goes back to the pool idle since
// its start, not since forever: trimIdle keeps it.
func TestRefusedInstanceNotTrimmed(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 2, IdleTimeout: 900 * time.Millisecond, MaxRunning: 1, QueueTimeout: 20 * time.Millisecond})
	w := newWorker(t, rt, "hello", nil, Limits{}) // no _initialize
	ctx := context.Background()
	first, err := w.acquire(ctx) // the pool's instance: the request below starts a second one
	if err != nil {
		t.Fatal(err)
	}
	other := rt.sched.register(Owner{Tenant: "o", Site: "o"}, 0)
	if err := rt.sched.enter(ctx, other); err != nil { // the node's only run slot
		t.Fatal(err)
	}
	res := w.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
	if res.Outcome != OutcomeBusy {
		t.Fatalf("outcome %q, want busy", res.Outcome)
	}
	rt.sched.leave(other, nil, 0)
	w.release(first, true)
	w.trimIdle()
	if len(w.free) != 2 {
		t.Fatalf("%d instances kept, want 2: the one just returned was trimmed as idle", len(w.free))
	}
}
