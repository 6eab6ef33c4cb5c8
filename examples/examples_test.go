// Package examples_test builds the example workers from source with
// examples/Makefile and runs requests through each with the real worker
// runtime (hosting/worker), as the edge would.
package examples_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/worker"
)

// testHost is the edge's side of one worker: canned fetches and assets,
// the guest's log lines, and one KV binding, STORE, in memory.
type testHost struct {
	mu      sync.Mutex
	logs    []string
	fetched []string
	kv      map[string][]byte
}

func (h *testHost) kvCheck(binding string) error {
	if binding != "STORE" {
		return worker.ErrKVUnbound
	}
	if h.kv == nil {
		h.kv = map[string][]byte{}
	}
	return nil
}

func (h *testHost) KVGet(ctx context.Context, binding, key string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.kvCheck(binding); err != nil {
		return nil, err
	}
	v, ok := h.kv[key]
	if !ok {
		return nil, worker.ErrKVNotFound
	}
	return v, nil
}

func (h *testHost) KVPut(ctx context.Context, binding, key string, value []byte, ttl time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.kvCheck(binding); err != nil {
		return err
	}
	h.kv[key] = value
	return nil
}

func (h *testHost) KVDelete(ctx context.Context, binding, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.kvCheck(binding); err != nil {
		return err
	}
	delete(h.kv, key)
	return nil
}

func (h *testHost) KVList(ctx context.Context, binding, prefix, cursor string, limit int) ([]string, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.kvCheck(binding); err != nil {
		return nil, "", err
	}
	var keys []string
	for k := range h.kv {
		if strings.HasPrefix(k, prefix) && k > cursor {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > limit {
		keys = keys[:limit]
		return keys, keys[limit-1], nil
	}
	return keys, "", nil
}

func (h *testHost) KVCompareAndSwap(ctx context.Context, binding, key string, old []byte, oldExists bool, value []byte, ttl time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.kvCheck(binding); err != nil {
		return err
	}
	cur, ok := h.kv[key]
	if ok != oldExists || string(cur) != string(old) {
		return worker.ErrKVConflict
	}
	h.kv[key] = value
	return nil
}

func (h *testHost) Fetch(ctx context.Context, req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.fetched = append(h.fetched, req.Method+" "+req.URL.String())
	h.mu.Unlock()
	if req.URL.Hostname() == "169.254.169.254" {
		return nil, fmt.Errorf("dialing %s: %w", req.URL.Host, worker.ErrEgressDenied)
	}
	body := "upstream says hi"
	return &http.Response{
		StatusCode:    200,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(strings.NewReader(body)),
		Request:       req,
	}, nil
}

func (h *testHost) Asset(ctx context.Context, path string) (*http.Response, error) {
	if path != "/index.html" {
		return nil, fmt.Errorf("%s: %w", path, worker.ErrAssetNotFound)
	}
	body := "<!doctype html><title>home</title>"
	return &http.Response{
		StatusCode:    200,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"text/html; charset=utf-8"}},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(strings.NewReader(body)),
	}, nil
}

func (h *testHost) Log(line string) {
	h.mu.Lock()
	h.logs = append(h.logs, line)
	h.mu.Unlock()
}

func (h *testHost) logText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.logs, "\n")
}

// static stands in for the site's static assets.
var static = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "static "+r.URL.Path)
})

type exchange struct {
	name, method, target, body string
	status                     int
	want                       string // a substring of the response body
	wantType                   string // a prefix of the Content-Type
	outcome                    string // default worker.OutcomeOK
}

func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds six wasm modules; skipped with -short")
	}
	examples := []struct {
		name      string
		tools     []string
		vars      map[string]string
		kv        map[string]string // the STORE binding's keys before the exchanges
		exchanges []exchange
		wantLog   string
		wantFetch string
	}{
		{
			name:  "worker-go",
			tools: []string{"go"},
			vars:  map[string]string{"GREETING_NAME": "from-var"},
			exchanges: []exchange{
				{name: "hello", method: "GET", target: "/api/hello?name=x", status: 200, want: `{"hello":"x"}`, wantType: "application/json"},
				{name: "hello var", method: "GET", target: "/api/hello", status: 200, want: `{"hello":"from-var"}`},
				{name: "time", method: "GET", target: "/api/time", status: 200, want: `"unix":`},
				{name: "echo", method: "POST", target: "/api/echo", body: `{"a":[1,2]}`, status: 200, want: `{"echo":{"a":[1,2]}}`},
				{name: "bad json", method: "POST", target: "/api/echo", body: `{`, status: 400, want: `"bad_json"`},
				{name: "fetch", method: "GET", target: "/api/fetch?url=https://api.example.com/x", status: 200, want: `"bytes":16`},
				{name: "subrequest limit", method: "GET", target: "/api/fetch?n=3&url=https://api.example.com/x", status: 429,
					want: `"fetched":2`, outcome: worker.OutcomeExceededSubrequests},
				{name: "fetch denied", method: "GET", target: "/api/fetch?url=http://169.254.169.254/latest", status: 403, want: `"egress_denied"`},
				{name: "asset", method: "GET", target: "/api/asset?path=/index.html", status: 200, want: `"bytes":34`},
				{name: "asset missing", method: "GET", target: "/api/asset?path=/nope", status: 404, want: `"asset_not_found"`},
				{name: "unknown api", method: "GET", target: "/api/nope", status: 404, want: `"not_found"`},
				{name: "falls through", method: "GET", target: "/index.html", status: 200, want: "static /index.html"},
			},
			wantLog:   "msg=hello name=x",
			wantFetch: "GET https://api.example.com/x",
		},
		{
			name:  "worker-kv",
			tools: []string{"go"},
			exchanges: []exchange{
				{name: "count before", method: "GET", target: "/count", status: 200, want: `{"count":0}`, wantType: "application/json"},
				{name: "increment", method: "POST", target: "/count", status: 200, want: `{"count":1}`},
				{name: "increment again", method: "POST", target: "/count", status: 200, want: `{"count":2}`},
				{name: "count after", method: "GET", target: "/count", status: 200, want: `{"count":2}`},
				{name: "falls through", method: "GET", target: "/index.html", status: 200, want: "static /index.html"},
			},
		},
		{
			name:  "worker-c",
			tools: []string{"clang"},
			exchanges: []exchange{
				{name: "hello", method: "GET", target: "/c/hello?name=x", status: 200, want: "hello, x from C\n", wantType: "text/plain"},
				{name: "headers", method: "GET", target: "/c/headers", status: 200, want: "X-Test"},
				{name: "falls through", method: "GET", target: "/about", status: 200, want: "static /about"},
				{name: "POST falls through", method: "POST", target: "/c/hello", status: 200, want: "static /c/hello"},
			},
			wantLog: "worker-c: hello x",
		},
		{
			name:  "worker-rust",
			tools: []string{"/usr/bin/cargo"},
			vars:  map[string]string{"GREETING_NAME": "from-var"},
			kv:    map[string]string{"greeting": "hello from KV", "a/b": "slash"},
			exchanges: []exchange{
				{name: "hello", method: "GET", target: "/rust/hello", status: 200, want: "hello from Rust\n", wantType: "text/plain; charset=utf-8"},
				{name: "kv", method: "GET", target: "/rust/kv?key=greeting", status: 200, want: "hello from KV", wantType: "application/octet-stream"},
				{name: "kv escaped key", method: "GET", target: "/rust/kv?key=a%2Fb", status: 200, want: "slash"},
				{name: "kv absent", method: "GET", target: "/rust/kv?key=nope", status: 404, want: `"not_found"`, wantType: "application/json"},
				{name: "kv without a key", method: "GET", target: "/rust/kv", status: 400, want: `"missing_key"`},
				{name: "hello with query", method: "GET", target: "/rust/hello?name=x", status: 200, want: "hello from Rust\n"},
				{name: "var", method: "GET", target: "/rust/var?name=GREETING_NAME", status: 200, want: "from-var"},
				{name: "var unset", method: "GET", target: "/rust/var?name=NOPE", status: 404, want: `"not_found"`},
				{name: "fetch", method: "GET", target: "/rust/fetch?url=https://api.example.com/x", status: 200, want: `{"status":200,"bytes":16}`, wantType: "application/json"},
				{name: "fetch denied", method: "GET", target: "/rust/fetch?url=http://169.254.169.254/latest", status: 403, want: `"egress_denied"`},
				{name: "fetch invalid", method: "GET", target: "/rust/fetch?url=nope", status: 400, want: `"invalid_request"`},
				{name: "asset", method: "GET", target: "/rust/asset?path=/index.html", status: 200, want: `"bytes":34`},
				{name: "asset missing", method: "GET", target: "/rust/asset?path=/nope", status: 404, want: `"not_found"`},
				{name: "unknown path falls through", method: "GET", target: "/rust/nope", status: 200, want: "static /rust/nope"},
				{name: "POST falls through", method: "POST", target: "/rust/hello", status: 200, want: "static /rust/hello"},
				{name: "outside /rust falls through", method: "GET", target: "/about", status: 200, want: "static /about"},
			},
			wantLog:   "worker-rust: fetch https://api.example.com/x",
			wantFetch: "GET https://api.example.com/x",
		},
		{
			name:  "worker-wat",
			tools: []string{"wat2wasm"},
			exchanges: []exchange{
				{name: "hello", method: "GET", target: "/wat", status: 200, want: "hello from WAT\n", wantType: "text/plain"},
				{name: "with query", method: "GET", target: "/wat?x=1", status: 200, want: "hello from WAT\n"},
				{name: "prefix only", method: "GET", target: "/water", status: 200, want: "static /water"},
			},
		},
		{
			name:  "worker-wagi",
			tools: []string{"go"},
			vars:  map[string]string{"GREETING_NAME": "from-var"},
			exchanges: []exchange{
				{name: "hello", method: "GET", target: "/wagi/hello?name=x", status: 200, want: "hello, x from WAGI\n", wantType: "text/plain"},
				{name: "hello var", method: "GET", target: "/wagi/hello", status: 200, want: "hello, from-var from WAGI\n"},
				{name: "echo", method: "POST", target: "/wagi/echo", body: "ping", status: 200, want: "ping"},
				{name: "env", method: "GET", target: "/wagi/env", status: 200, want: "REQUEST_METHOD=GET"},
				{name: "not found", method: "GET", target: "/elsewhere", status: 404},
			},
			wantLog: "hello x",
		},
	}

	ctx := context.Background()
	// A compilation cache that outlives the test: compiling the Go modules
	// takes minutes under the race detector, and the builds are
	// reproducible (-trimpath), so later runs on this machine hit it.
	var cacheDir string
	if dir, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(dir, "pier-test", "wasm-cache")
	}
	rt, err := worker.New(ctx, worker.Config{PoolSize: 2, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)

	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			if _, err := exec.LookPath("make"); err != nil {
				missing(t, "make not installed")
			}
			// Under PIER_TEST_REQUIRE_SERVERS=1 a missing compiler is left
			// to make, which installs the Debian packages when root.
			for _, tool := range ex.tools {
				if _, err := exec.LookPath(tool); err != nil && os.Getenv("PIER_TEST_REQUIRE_SERVERS") != "1" {
					t.Skipf("%s not installed (make -C examples deps)", tool)
				}
			}
			wasm := build(t, ex.name)
			// Generous CPU: the race detector and two shared cores make a
			// Go guest's first requests slow; limits have their own tests.
			w, err := rt.NewWorker(ctx, wasm, ex.vars, worker.Limits{CPU: 5 * time.Second, StartupCPU: 10 * time.Second, SubRequests: 2})
			if err != nil {
				t.Fatalf("NewWorker: %v", err)
			}
			defer w.Close(ctx)
			host := &testHost{kv: map[string][]byte{}}
			for k, v := range ex.kv {
				host.kv[k] = []byte(v)
			}
			for _, x := range ex.exchanges {
				t.Run(x.name, func(t *testing.T) {
					req := httptest.NewRequest(x.method, "http://site.example"+x.target, strings.NewReader(x.body))
					req.Header.Set("X-Test", "1")
					if x.body != "" {
						req.Header.Set("Content-Type", "application/json")
					}
					rec := httptest.NewRecorder()
					res := w.Serve(rec, req, host, static)
					outcome := x.outcome
					if outcome == "" {
						outcome = worker.OutcomeOK
					}
					if res.Err != nil || res.Outcome != outcome {
						t.Fatalf("outcome %s: %v (logs: %s)", res.Outcome, res.Err, host.logText())
					}
					if rec.Code != x.status {
						t.Errorf("status %d, want %d; body %q", rec.Code, x.status, rec.Body)
					}
					if !strings.Contains(rec.Body.String(), x.want) {
						t.Errorf("body %q, want it to contain %q", rec.Body, x.want)
					}
					if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, x.wantType) {
						t.Errorf("Content-Type %q, want %q…", ct, x.wantType)
					}
				})
			}
			if ex.wantLog != "" && !strings.Contains(host.logText(), ex.wantLog) {
				t.Errorf("logs %q, want a line containing %q", host.logText(), ex.wantLog)
			}
			if ex.wantFetch != "" && !strings.Contains(strings.Join(host.fetched, "\n"), ex.wantFetch) {
				t.Errorf("fetches %q, want %q", host.fetched, ex.wantFetch)
			}
		})
	}
}

// build runs make for one example and returns its module.
func build(t *testing.T, name string) []byte {
	t.Helper()
	cmd := exec.Command("make", "-s", name)
	cmd.Env = append(os.Environ(), "MAKEFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && strings.Contains(string(out), "missing tools") {
			missing(t, string(out))
		}
		t.Fatalf("make %s: %v\n%s", name, err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(name, "build", "worker.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// missing skips, or fails under PIER_TEST_REQUIRE_SERVERS=1 (make test).
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("PIER_TEST_REQUIRE_SERVERS") == "1" {
		t.Fatalf("%s; PIER_TEST_REQUIRE_SERVERS=1 requires it", why)
	}
	t.Skip(why)
}

// BenchmarkWorkerHello measures one pooled request through an example
// worker with the real runtime: the Go SDK example (GET /api/hello) against
// the hand-written WAT one, which costs next to nothing in the guest, and
// the Rust SDK's hello-world.
func BenchmarkWorkerHello(b *testing.B) {
	if _, err := exec.LookPath("make"); err != nil {
		b.Skip("make not installed")
	}
	ctx := context.Background()
	var cacheDir string
	if dir, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(dir, "pier-test", "wasm-cache")
	}
	rt, err := worker.New(ctx, worker.Config{PoolSize: 1, CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	for _, bc := range []struct{ name, target string }{
		{"worker-go", "/api/hello?name=bench"},
		{"worker-wat", "/wat"},
		{"worker-rust", "/rust/hello"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := exec.LookPath(map[string]string{"worker-go": "go", "worker-wat": "wat2wasm", "worker-rust": "/usr/bin/cargo"}[bc.name]); err != nil {
				b.Skip(err)
			}
			if out, err := exec.Command("make", "-s", bc.name).CombinedOutput(); err != nil {
				b.Fatalf("make %s: %v\n%s", bc.name, err, out)
			}
			wasm, err := os.ReadFile(filepath.Join(bc.name, "build", "worker.wasm"))
			if err != nil {
				b.Fatal(err)
			}
			w, err := rt.NewWorker(ctx, wasm, nil, worker.Limits{CPU: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close(ctx)
			host := &testHost{}
			req := httptest.NewRequest("GET", "http://site.example"+bc.target, nil)
			req.Header.Set("Accept", "*/*")
			req.Header.Set("User-Agent", "bench")
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				if res := w.Serve(rec, req, host, static); res.Outcome != worker.OutcomeOK || rec.Code != 200 {
					b.Fatalf("outcome %s status %d: %v", res.Outcome, rec.Code, res.Err)
				}
			}
		})
	}
}

// TestKVCounterConcurrent: the worker-kv example's increments are exact
// when 8 clients send them at once through one worker (two instances):
// the SDK's Update retries its compare-and-swap on a conflict.
func TestKVCounterConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm module; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not installed")
	}
	ctx := context.Background()
	var cacheDir string
	if dir, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(dir, "pier-test", "wasm-cache")
	}
	rt, err := worker.New(ctx, worker.Config{PoolSize: 2, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	w, err := rt.NewWorker(ctx, build(t, "worker-kv"), nil, worker.Limits{CPU: 5 * time.Second, StartupCPU: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	host := &testHost{}
	const clients, each = 8, 50
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				rec := httptest.NewRecorder()
				res := w.Serve(rec, httptest.NewRequest("POST", "http://site.example/count", nil), host, static)
				if res.Outcome != worker.OutcomeOK || rec.Code != 200 {
					t.Errorf("outcome %s, status %d: %s %v", res.Outcome, rec.Code, rec.Body, res.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got, want := string(host.kv["count"]), fmt.Sprint(clients*each); got != want {
		t.Fatalf("count %s, want %s", got, want)
	}
}

// kvGuest is a Go SDK worker that calls every KV method and answers what
// each returned, one line each.
const kvGuest = `//go:build wasip1

package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pierhq/pier/sdk/go/pier"
)

func init() {
	pier.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kv := pier.KV("STORE")
		big := strings.Repeat("x", 5000)
		fmt.Fprintln(w, "put", kv.Put("a/1", []byte(big), pier.WithTTL(time.Minute)))
		v, err := kv.Get("a/1")
		fmt.Fprintln(w, "get", len(v), err)
		fmt.Fprintln(w, "put", kv.Put("a/2", []byte("two")))
		keys, next, err := kv.List("a/", "")
		fmt.Fprintln(w, "list", keys, next == "", err)
		ok, err := kv.CompareAndSwap("a/2", []byte("two"), true, []byte("2"))
		fmt.Fprintln(w, "cas", ok, err)
		ok, err = kv.CompareAndSwap("a/2", nil, false, []byte("x"))
		fmt.Fprintln(w, "cas", ok, err)
		fmt.Fprintln(w, "delete", kv.Delete("a/1"))
		_, err = kv.Get("a/1")
		fmt.Fprintln(w, "gone", errors.Is(err, pier.ErrKeyNotFound))
		_, err = pier.KV("NOPE").Get("a/2")
		fmt.Fprintln(w, "unbound", errors.Is(err, pier.ErrKVUnbound))
	}))
}

func main() {}
`

// TestSDKKVImports: the Go SDK's KV methods reach the host's kv_* imports
// with the signatures hosting/worker defines (a mismatch fails at
// instantiation), and their answers come back as the SDK documents.
func TestSDKKVImports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm module; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not installed")
	}
	sdk, err := filepath.Abs(filepath.Join("..", "sdk", "go", "pier"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module kvguest\n\ngo 1.26.8\n\nrequire github.com/pierhq/pier/sdk/go/pier v0.0.0\n\nreplace github.com/pierhq/pier/sdk/go/pier => " + sdk + "\n",
		"main.go": kvGuest,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", "guest.wasm", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the guest: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "guest.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, err := worker.New(ctx, worker.Config{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	w, err := rt.NewWorker(ctx, wasm, nil, worker.Limits{CPU: 5 * time.Second, StartupCPU: 10 * time.Second})
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	defer w.Close(ctx)
	host := &testHost{}
	rec := httptest.NewRecorder()
	res := w.Serve(rec, httptest.NewRequest("GET", "http://site.example/", nil), host, static)
	if res.Outcome != worker.OutcomeOK {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	want := "put <nil>\nget 5000 <nil>\nput <nil>\nlist [a/1 a/2] true <nil>\ncas true <nil>\ncas false <nil>\ndelete <nil>\ngone true\nunbound true\n"
	if rec.Body.String() != want {
		t.Errorf("answer\n%s\nwant\n%s", rec.Body, want)
	}
	// Get of the 5,000-byte value was one operation, its repeat with a
	// larger buffer free: 9 calls, 9 operations.
	if got := res.KVReads + res.KVWrites; got != 9 {
		t.Errorf("%d KV reads and writes, want 9", got)
	}
}
