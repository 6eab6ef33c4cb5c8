package worker

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// TestCompileOnce: Validate (at deploy), Prewarm (at boot) and NewWorker
// with any limits share one compiled module, also when they run at once.
func TestCompileOnce(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, Config{})
	wasm := guest(t, "hello")
	if err := rt.Validate(ctx, wasm); err != nil {
		t.Fatal(err)
	}
	if err := rt.Prewarm(ctx, wasm, Limits{MemoryBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	w1 := newWorker(t, rt, "hello", nil, Limits{MemoryBytes: 1 << 20})
	w2 := newWorker(t, rt, "hello", nil, Limits{MemoryBytes: 256 << 20})
	if n := rt.compiles.Load(); n != 1 || w1.shared != w2.shared {
		t.Fatalf("compiled %d times; shared module %p and %p", n, w1.shared, w2.shared)
	}

	// Concurrent first uses of a module wait for one compilation.
	echo := guest(t, "echo")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			if i%2 == 0 {
				errs <- rt.Prewarm(ctx, echo, Limits{})
				return
			}
			w, err := rt.NewWorker(ctx, echo, nil, Limits{})
			if err == nil {
				err = w.Close(ctx)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rt.compiles.Load(); n != 2 {
		t.Fatalf("compiled %d times, want 2", n)
	}
}

// TestCompiledKeptThenClosed: a compiled module nobody uses stays for
// KeepCompiled, then is closed.
func TestCompiledKeptThenClosed(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, Config{KeepCompiled: 10 * time.Millisecond})
	w := newWorker(t, rt, "hello", nil, Limits{})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, testenv.Patience, func() error {
		rt.mu.Lock()
		n, m := len(rt.compiled), len(rt.byInput)
		rt.mu.Unlock()
		if n != 0 || m != 0 {
			return fmt.Errorf("%d compiled modules (%d inputs) still kept", n, m)
		}
		return nil
	})
	// Compiled again on demand.
	newWorker(t, rt, "hello", nil, Limits{})
	if n := rt.compiles.Load(); n != 2 {
		t.Fatalf("compiled %d times, want 2", n)
	}
}

// TestMemoryStartsOverLimit: the plan's memory cap is not part of the
// compiled code, so a module whose memory starts above it is refused by
// NewWorker and Prewarm, not by Validate.
func TestMemoryStartsOverLimit(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, Config{})
	wasm := guest(t, "bigmem")
	if err := rt.Validate(ctx, wasm); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Prewarm": rt.Prewarm(ctx, wasm, Limits{MemoryBytes: 1 << 20}),
		"NewWorker": func() error {
			_, err := rt.NewWorker(ctx, wasm, nil, Limits{MemoryBytes: 1 << 20})
			return err
		}(),
	} {
		var me *ModuleError
		if !errors.As(err, &me) || !strings.Contains(me.Msg, "memory starts at 32 pages") {
			t.Errorf("%s: %v", name, err)
		}
	}
	newWorker(t, rt, "bigmem", nil, Limits{MemoryBytes: 2 << 20})
}

// TestInstrumentCache: instrumented modules are stored on disk and read
// back by the next Runtime (a restart); a corrupt entry is rebuilt.
func TestInstrumentCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	hello, echo := guest(t, "hello"), guest(t, "echo")
	rt := newRuntime(t, Config{CacheDir: dir})
	if err := rt.Validate(ctx, hello); err != nil {
		t.Fatal(err)
	}
	if err := rt.Validate(ctx, echo); err != nil {
		t.Fatal(err)
	}
	entry := rt.icache.path(sha256.Sum256(hello))
	echoEntry, err := os.ReadFile(rt.icache.path(sha256.Sum256(echo)))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	serve := func(rt *Runtime) string {
		t.Helper()
		w, err := rt.NewWorker(ctx, hello, nil, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		rec := httptest.NewRecorder()
		if res := w.Serve(rec, httptest.NewRequest("POST", "/", strings.NewReader("ping")), &fakeHost{}, nil); res.Outcome != OutcomeOK {
			t.Fatal(res.Outcome, res.Err)
		}
		return rec.Body.String()
	}
	helloBody := serve(newRuntime(t, Config{})) // no cache

	// The entry is what a restart runs: put echo's under hello's name.
	if err := os.WriteFile(entry, echoEntry, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serve(newRuntime(t, Config{CacheDir: dir})); !strings.HasPrefix(got, "POST / ") || !strings.HasSuffix(got, "ping") {
		t.Fatalf("with echo's entry: body %q, want the echo (hello says %q)", got, helloBody)
	}

	// Corrupt entries are ignored and replaced.
	for name, corrupt := range map[string][]byte{
		"flipped":   func() []byte { b := append([]byte(nil), echoEntry...); b[len(b)-1] ^= 1; return b }(),
		"truncated": echoEntry[:len(echoEntry)/2],
		"empty":     {},
	} {
		if err := os.WriteFile(entry, corrupt, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := serve(newRuntime(t, Config{CacheDir: dir})); got != helloBody {
			t.Fatalf("%s entry: body %q, want %q", name, got, helloBody)
		}
		b, err := os.ReadFile(entry)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == string(corrupt) || len(b) <= entryHeader {
			t.Fatalf("%s entry was not rebuilt", name)
		}
	}
	// No temporary files left behind; entries of other builds are removed.
	stale := filepath.Join(filepath.Dir(rt.icache.dir), "old-build")
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	newRuntime(t, Config{CacheDir: dir})
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("another build's directory: %v", err)
	}
	files, err := os.ReadDir(rt.icache.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(f.Name(), ".tmp-") {
			t.Errorf("temporary file %s left", f.Name())
		}
	}
}
