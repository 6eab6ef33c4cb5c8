package worker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// buildGoGuest compiles testdata/goguest, a standard-Go http-wasm reactor
// (-buildmode=c-shared), into dir.
func buildGoGuest(t testing.TB, dir string) []byte {
	return buildGo(t, dir, "goguest", "-buildmode=c-shared")
}

// buildGo compiles ./testdata/<name> for wasip1 into dir.
func buildGo(t testing.TB, dir, name string, flags ...string) []byte {
	t.Helper()
	out := filepath.Join(dir, name+".wasm")
	args := append(append([]string{"build"}, flags...), "-o", out, "./testdata/"+name)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build the Go guest %s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoGuest runs a standard-Go reactor: _initialize starts the Go
// runtime once per instance and handle_request is called per request.
func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	wasm := buildGoGuest(t, t.TempDir())
	rt := newRuntime(t, Config{PoolSize: 1})
	w, err := rt.NewWorker(context.Background(), wasm, nil, Limits{CPU: time.Second, MemoryBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	for i, want := range []string{`{"requests":1,"uri":"/a?b=c"}`, `{"requests":2,"uri":"/a?b=c"}`} {
		rec := httptest.NewRecorder()
		res := w.Serve(rec, httptest.NewRequest("GET", "/a?b=c", nil), &fakeHost{}, noNext(t))
		if res.Outcome != OutcomeOK || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("request %d: outcome %q (%v) body %q header %v", i, res.Outcome, res.Err, rec.Body, rec.Header())
		}
	}
}

// TestGoCGIGuest runs a WAGI worker written with Go's net/http/cgi.
func TestGoCGIGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	wasm := buildGo(t, t.TempDir(), "cgiguest")
	rt := newRuntime(t, Config{})
	w, err := rt.NewWorker(context.Background(), wasm, map[string]string{"GREETING": "hi"}, Limits{CPU: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	req := httptest.NewRequest("POST", "http://site.example/p?q=1", strings.NewReader("ping"))
	req.Header.Set("X-Test", "v")
	host := &fakeHost{}
	rec := httptest.NewRecorder()
	res := w.Serve(rec, req, host, noNext(t))
	want := "POST /p?q=1 host=site.example x=v greeting=hi body=ping"
	if res.Outcome != OutcomeOK || rec.Code != http.StatusAccepted || rec.Body.String() != want || rec.Header().Get("X-Go-Cgi") != "1" {
		t.Fatalf("outcome %q (%v) status %d body %q header %v log %q", res.Outcome, res.Err, rec.Code, rec.Body, rec.Header(), host.logged())
	}
	if got := host.logged(); !slices.Equal(got, []string{"serving /p"}) {
		t.Errorf("log = %q", got)
	}
}

func BenchmarkServeHello(b *testing.B) {
	rt := newRuntime(b, Config{})
	w := newWorker(b, rt, "hello", nil, Limits{})
	host := &fakeHost{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/", nil)
		for pb.Next() {
			rec := httptest.NewRecorder()
			if res := w.Serve(rec, req, host, nil); res.Outcome != OutcomeOK {
				b.Fatal(res.Outcome, res.Err)
			}
		}
	})
}

// BenchmarkServeCPUBound compares a hash loop (testdata/cpu.wat, work(n))
// in an instrumented instance with the CPU limit armed against the same
// module compiled as is. The target is instrumented ≤ 1.3× plain.
func BenchmarkServeCPUBound(b *testing.B) {
	const rounds = 1_000_000
	ctx := context.Background()
	b.Run("plain", func(b *testing.B) {
		r := wazero.NewRuntime(ctx)
		defer r.Close(ctx)
		if _, err := httpHandlerModule(r).Instantiate(ctx); err != nil {
			b.Fatal(err)
		}
		mod, err := r.Instantiate(ctx, guest(b, "cpu"))
		if err != nil {
			b.Fatal(err)
		}
		work := mod.ExportedFunction("work")
		b.ResetTimer()
		for b.Loop() {
			if _, err := work.Call(ctx, rounds); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("instrumented", func(b *testing.B) {
		rt := newRuntime(b, Config{PoolSize: 1})
		w := newWorker(b, rt, "cpu", nil, Limits{CPU: time.Minute})
		in, err := w.acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer w.release(in, true)
		work := in.mod.ExportedFunction("work")
		b.ResetTimer()
		for b.Loop() {
			in.meter.begin(time.Minute, true)
			_, err := work.Call(in.ctx, rounds)
			in.meter.stop()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("serve", func(b *testing.B) { // 2,000,000 rounds through handle_request
		rt := newRuntime(b, Config{PoolSize: 1})
		w := newWorker(b, rt, "cpu", nil, Limits{CPU: time.Minute})
		req := httptest.NewRequest("GET", "/", nil)
		for b.Loop() {
			if res := w.Serve(httptest.NewRecorder(), req, &fakeHost{}, nil); res.Outcome != OutcomeOK {
				b.Fatal(res.Outcome, res.Err)
			}
		}
	})
}

// BenchmarkColdStart measures NewWorker plus the first request for a
// standard-Go guest in a fresh Runtime (a process restart) whose cache
// directory already holds the module (instrumented and compiled). Target ≤
// 50 ms. "restart" is the first request arriving before anything else;
// "prewarmed" is the first request after Prewarm at boot (untimed).
func BenchmarkColdStart(b *testing.B) {
	dir := b.TempDir()
	wasm := buildGoGuest(b, dir)
	cfg := Config{CacheDir: filepath.Join(dir, "cache"), PoolSize: 1}
	lim := Limits{CPU: time.Second, MemoryBytes: 64 << 20}
	ctx := context.Background()
	warm := func() {
		rt, err := New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		w, err := rt.NewWorker(ctx, wasm, nil, lim)
		if err != nil {
			b.Fatal(err)
		}
		w.Close(ctx)
		rt.Close(ctx)
	}
	warm()
	req := httptest.NewRequest("GET", "/", nil)
	run := func(b *testing.B, prewarm bool) {
		for b.Loop() {
			b.StopTimer()
			rt, err := New(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if prewarm {
				if err := rt.Prewarm(ctx, wasm, lim); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			w, err := rt.NewWorker(ctx, wasm, nil, lim)
			if err != nil {
				b.Fatal(err)
			}
			if res := w.Serve(httptest.NewRecorder(), req, &fakeHost{}, nil); res.Outcome != OutcomeOK {
				b.Fatal(res.Outcome, res.Err)
			}
			b.StopTimer()
			w.Close(ctx)
			rt.Close(ctx)
			b.StartTimer()
		}
		b.ReportMetric(float64(len(wasm))/(1<<20), "MiB-module")
	}
	b.Run("restart", func(b *testing.B) { run(b, false) })
	b.Run("prewarmed", func(b *testing.B) { run(b, true) })
}

// BenchmarkRunawayStop serves an infinite loop 200 times per iteration
// with a 10 ms budget and reports the 99th percentile of the time past the
// budget until Serve returned (target ≤ 20 ms), instance replacement
// included.
func BenchmarkRunawayStop(b *testing.B) {
	const budget = 10 * time.Millisecond
	rt := newRuntime(b, Config{PoolSize: 1})
	w := newWorker(b, rt, "loop", nil, Limits{CPU: budget})
	req := httptest.NewRequest("GET", "/", nil)
	var over []time.Duration
	for b.Loop() {
		over = over[:0]
		for range 200 {
			start := time.Now()
			res := w.Serve(httptest.NewRecorder(), req, &fakeHost{}, http.NotFoundHandler())
			if res.Outcome != OutcomeExceededCPU {
				b.Fatal(res.Outcome, res.Err)
			}
			over = append(over, time.Since(start)-budget)
		}
	}
	slices.Sort(over)
	b.ReportMetric(float64(over[len(over)*99/100].Microseconds())/1000, "p99-over-ms")
	b.ReportMetric(float64(over[len(over)/2].Microseconds())/1000, "p50-over-ms")
}

// BenchmarkServeWAGI serves the WAT CGI command: a fresh instance (and
// interrupt thread) per request.
func BenchmarkServeWAGI(b *testing.B) {
	rt := newRuntime(b, Config{})
	w := newWorker(b, rt, "cgi", nil, Limits{})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/", strings.NewReader("ping"))
		if res := w.Serve(httptest.NewRecorder(), req, &fakeHost{}, nil); res.Outcome != OutcomeOK {
			b.Fatal(res.Outcome, res.Err)
		}
	}
}

// BenchmarkServeGoSDK serves GET /api/ping of examples/worker-go (the Go
// SDK's hello-world, the guest of the dispatch benchmark in
// internal/bench/worker.go) one request at a time with a wrk-like request,
// with the pro plan's limits.
func BenchmarkServeGoSDK(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a Go guest")
	}
	dir := b.TempDir()
	out := filepath.Join(dir, "worker.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = "../../examples/worker-go"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("cannot build examples/worker-go: %v\n%s", err, o)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	rt := newRuntime(b, Config{PoolSize: 1})
	w, err := rt.NewWorker(context.Background(), wasm, nil, Limits{CPU: 50 * time.Millisecond, MemoryBytes: 128 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(context.Background())
	for _, bc := range []struct{ name, path, want string }{
		{"ping", "/api/ping", "pong\n"},
		{"hello", "/api/hello?name=bench", "{\"hello\":\"bench\"}\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://worker-go.localhost"+bc.path, nil)
			req.Header.Set("User-Agent", "wrk")
			host := &fakeHost{}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				if res := w.Serve(rec, req, host, nil); res.Outcome != OutcomeOK || rec.Body.String() != bc.want {
					b.Fatal(res.Outcome, res.Err, rec.Body.String())
				}
			}
		})
	}
}

// BenchmarkServeRust serves GET /rust/hello of examples/worker-rust (the
// Rust SDK's hello-world, built by make examples; skipped if it is not)
// one request at a time with a wrk-like request, with the pro plan's
// limits: the in-process part of the dispatch benchmark's Rust figure.
func BenchmarkServeRust(b *testing.B) {
	wasm, err := os.ReadFile("../../examples/worker-rust/build/worker.wasm")
	if err != nil {
		b.Skipf("examples/worker-rust is not built (make examples): %v", err)
	}
	rt := newRuntime(b, Config{PoolSize: 1})
	w, err := rt.NewWorker(context.Background(), wasm, nil, Limits{CPU: 50 * time.Millisecond, MemoryBytes: 128 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(context.Background())
	req := httptest.NewRequest("GET", "http://worker-rust.localhost/rust/hello", nil)
	req.Header.Set("User-Agent", "wrk")
	host := &fakeHost{}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		if res := w.Serve(rec, req, host, nil); res.Outcome != OutcomeOK || rec.Body.String() != "hello from Rust\n" {
			b.Fatal(res.Outcome, res.Err, rec.Body.String())
		}
	}
}

// BenchmarkClock compares mono, the clock of the per-request readings,
// with time.Now, which also reads the wall clock.
func BenchmarkClock(b *testing.B) {
	var sink time.Duration
	b.Run("mono", func(b *testing.B) {
		for b.Loop() {
			sink += mono()
		}
	})
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			sink += time.Duration(time.Now().UnixNano())
		}
	})
	if sink == 0 {
		b.Log(sink)
	}
}
