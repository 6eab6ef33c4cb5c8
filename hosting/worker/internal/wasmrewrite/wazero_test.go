package wasmrewrite

// The .wasm files under testdata are committed so that `go test` needs no
// wabt; `go generate` rebuilds them from their .wat sources.
//go:generate wat2wasm testdata/loop.wat -o testdata/loop.wasm
//go:generate wat2wasm testdata/recurse.wat -o testdata/recurse.wasm
//go:generate wat2wasm testdata/hash.wat -o testdata/hash.wasm
//go:generate wat2wasm testdata/grow.wat -o testdata/grow.wasm
//go:generate wat2wasm testdata/growmax.wat -o testdata/growmax.wasm
//go:generate wat2wasm --enable-tail-call testdata/features.wat -o testdata/features.wasm
//go:generate wat2wasm --enable-exceptions testdata/eh_legacy.wat -o testdata/eh_legacy.wasm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// features are the wasm features the worker runtime enables.
const features = api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExceptionHandling | experimental.CoreFeaturesExtendedConst

// newRuntime returns a wazero runtime with the compiler and without
// WithCloseOnContextDone: the instrumentation alone stops guests. Its
// interrupt function (see hostInterrupt) traps.
func newRuntime(tb testing.TB) wazero.Runtime {
	tb.Helper()
	return newRuntimeWithConfig(tb, wazero.NewRuntimeConfigCompiler())
}

func newRuntimeWithConfig(tb testing.TB, cfg wazero.RuntimeConfig) wazero.Runtime {
	tb.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg.WithCoreFeatures(features))
	tb.Cleanup(func() { rt.Close(ctx) })
	_, err := rt.NewHostModuleBuilder(InterruptModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostInterrupt), nil, nil).Export(InterruptFunc).
		Instantiate(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}

// errInterrupted is the trap of the tests' interrupt function.
var errInterrupted = errors.New("interrupted")

// yieldKey is the context key of a *yields: with one, the interrupt
// function lets the guest go on (it clears the flag and counts the call)
// until the count reaches its limit, then traps.
type yieldKey struct{}

type yields struct {
	n, limit int
}

// hostInterrupt is the tests' InterruptModule.InterruptFunc, called by the
// guest when it finds the flag set.
func hostInterrupt(ctx context.Context, mod api.Module, _ []uint64) {
	if y, ok := ctx.Value(yieldKey{}).(*yields); ok && y.n < y.limit {
		y.n++
		mod.ExportedGlobal(InterruptExport).(api.MutableGlobal).Set(0)
		return
	}
	panic(errInterrupted)
}

// isInterrupted reports whether err is the interrupt function's trap.
func isInterrupted(err error) bool { return errors.Is(err, errInterrupted) }

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// instantiate compiles and instantiates bin without running a start function.
func instantiate(tb testing.TB, rt wazero.Runtime, bin []byte, cfg wazero.ModuleConfig) api.Module {
	tb.Helper()
	ctx := context.Background()
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	if cfg == nil {
		cfg = wazero.NewModuleConfig()
	}
	mod, err := rt.InstantiateModule(ctx, compiled, cfg.WithName("").WithStartFunctions())
	if err != nil {
		tb.Fatalf("instantiate: %v", err)
	}
	return mod
}

func instrument(tb testing.TB, wasm []byte, opts Options) []byte {
	tb.Helper()
	out, _, err := Instrument(wasm, opts)
	if err != nil {
		tb.Fatalf("Instrument: %v", err)
	}
	return out
}

func interruptGlobal(tb testing.TB, mod api.Module) api.MutableGlobal {
	tb.Helper()
	g, ok := mod.ExportedGlobal(InterruptExport).(api.MutableGlobal)
	if !ok {
		tb.Fatalf("no mutable global %s", InterruptExport)
	}
	return g
}

// callInterrupted calls fn and sets the interrupt flag from a timer after
// 20 ms, as the runtime does when a CPU budget runs out; the call must end
// with the interrupt function's trap. The minute-long wait only turns a guest that
// is never stopped into a failure instead of a hung test binary.
//
// The garbage collector is off during the call: native guest code cannot be
// preempted, so a stop-the-world pause that begins while the guest runs
// waits for the guest, and the timer goroutine, stopped with the world,
// never sets the flag; with one P the guest holds it and the timer never
// runs at all (see the package documentation). These tests are
// about the instrumentation; delivering the interrupt is the runtime's job.
func callInterrupted(t *testing.T, mod api.Module, fn string, args ...uint64) {
	t.Helper()
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("the guest holds the only P, so the timer goroutine cannot run")
	}
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	g := interruptGlobal(t, mod)
	timer := time.AfterFunc(20*time.Millisecond, func() { g.Set(1) })
	defer timer.Stop()
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction(fn).Call(context.Background(), args...)
		done <- err
	}()
	select {
	case err := <-done:
		if !isInterrupted(err) {
			t.Fatalf("%s returned %v, want the interrupt trap", fn, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s was not stopped", fn)
	}
}

func TestInterruptStopsGuests(t *testing.T) {
	tests := []struct {
		name, file, fn string
		args           []uint64
	}{
		{"infinite loop", "loop.wasm", "spin", nil},
		{"deep recursion", "recurse.wasm", "deep", []uint64{100_000}},
		{"exponential call tree", "recurse.wasm", "fib", []uint64{40}},
	}
	rt := newRuntime(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := instantiate(t, rt, instrument(t, readTestdata(t, tt.file), Options{}), nil)
			callInterrupted(t, mod, tt.fn, tt.args...)
		})
	}
}

func TestInterruptSetBeforeCall(t *testing.T) {
	rt := newRuntime(t)
	mod := instantiate(t, rt, instrument(t, readTestdata(t, "recurse.wasm"), Options{}), nil)
	fib := mod.ExportedFunction("fib")
	if res, err := fib.Call(context.Background(), 10); err != nil || res[0] != 55 {
		t.Fatalf("fib(10) = %v, %v; want 55", res, err)
	}
	interruptGlobal(t, mod).Set(1)
	if _, err := fib.Call(context.Background(), 1); !isInterrupted(err) {
		t.Fatalf("fib with the flag set returned %v, want the interrupt trap", err)
	}
}

// TestInterruptFunctionCanResume checks that the guest goes on when the
// interrupt function returns: it is called at the first check after the
// flag is set, once per setting, and the result is the uninterrupted one.
func TestInterruptFunctionCanResume(t *testing.T) {
	rt := newRuntime(t)
	mod := instantiate(t, rt, instrument(t, readTestdata(t, "recurse.wasm"), Options{}), nil)
	fib := mod.ExportedFunction("fib")
	g := interruptGlobal(t, mod)
	y := &yields{limit: 3}
	ctx := context.WithValue(context.Background(), yieldKey{}, y)
	for i := 1; i <= 3; i++ {
		g.Set(1)
		if res, err := fib.Call(ctx, 20); err != nil || res[0] != 6765 {
			t.Fatalf("fib(20) with the flag set = %v, %v; want 6765", res, err)
		}
		if y.n != i {
			t.Fatalf("the interrupt function ran %d times after %d settings", y.n, i)
		}
	}
	g.Set(1)
	if _, err := fib.Call(ctx, 20); !isInterrupted(err) {
		t.Fatalf("fib past the limit returned %v, want the interrupt trap", err)
	}
}

// TestInstrumentedRunsTheSame compares the results of modules using post-MVP
// features before and after instrumentation.
func TestInstrumentedRunsTheSame(t *testing.T) {
	tests := []struct {
		name string
		wasm []byte
		fn   string
		args []uint64
		want uint64
	}{
		{"simd bulk memory multi-value tail calls reference types", readTestdata(t, "features.wasm"), "run", nil, 0x181a1c1ec835f062},
		{"exception handling in a loop", tryTableModule(), "run", []uint64{10}, 39},
		{"hash loop", readTestdata(t, "hash.wasm"), "hash", []uint64{1000}, 0},
		{"recursion", readTestdata(t, "recurse.wasm"), "fib", []uint64{20}, 6765},
	}
	rt := newRuntime(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wasm := tt.wasm
			ctx := context.Background()
			want, err := instantiate(t, rt, wasm, nil).ExportedFunction(tt.fn).Call(ctx, tt.args...)
			if err != nil {
				t.Fatalf("plain: %v", err)
			}
			got, err := instantiate(t, rt, instrument(t, wasm, Options{}), nil).ExportedFunction(tt.fn).Call(ctx, tt.args...)
			if err != nil {
				t.Fatalf("instrumented: %v", err)
			}
			if len(got) != len(want) || got[0] != want[0] {
				t.Errorf("instrumented result %v, plain %v", got, want)
			}
			if tt.want != 0 && want[0] != tt.want {
				t.Errorf("plain result %#x, want %#x: the test module changed", want[0], tt.want)
			}
		})
	}
}

// TestInterruptNotCaught checks that a guest's exception handlers do not
// catch the interrupt trap.
func TestInterruptNotCaught(t *testing.T) {
	rt := newRuntime(t)
	mod := instantiate(t, rt, instrument(t, tryTableModule(), Options{}), nil)
	interruptGlobal(t, mod).Set(1)
	if _, err := mod.ExportedFunction("run").Call(context.Background(), 10); !isInterrupted(err) {
		t.Fatalf("run returned %v, want the interrupt trap", err)
	}
}

func TestMemoryCap(t *testing.T) {
	const fail = 0xffffffff // memory.grow's -1
	tests := []struct {
		name  string
		file  string
		cap   uint32
		grows []uint32 // successive memory.grow deltas
		want  []uint32 // and their results
	}{
		{"no maximum gets the cap", "grow.wasm", 4, []uint32{2, 1, 1}, []uint32{1, 3, fail}},
		{"growth in one step past the cap", "grow.wasm", 4, []uint32{4, 3}, []uint32{fail, 1}},
		{"lower declared maximum stays", "growmax.wasm", 4, []uint32{2, 1}, []uint32{1, fail}},
		{"higher declared maximum is lowered", "growmax.wasm", 2, []uint32{1, 1}, []uint32{1, fail}},
		{"no cap", "grow.wasm", 0, []uint32{100}, []uint32{1}},
	}
	rt := newRuntime(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := instantiate(t, rt, instrument(t, readTestdata(t, tt.file), Options{MaxMemoryPages: tt.cap}), nil)
			for i, d := range tt.grows {
				res, err := mod.ExportedFunction("grow").Call(context.Background(), uint64(d))
				if err != nil {
					t.Fatal(err)
				}
				if uint32(res[0]) != tt.want[i] {
					t.Errorf("grow(%d) = %d, want %d", d, int32(res[0]), int32(tt.want[i]))
				}
			}
		})
	}
}

// TestOutputsCompile checks that wazero accepts the output for every
// testdata module, with the interrupt import and the global's export.
func TestOutputsCompile(t *testing.T) {
	rt := newRuntime(t)
	mods := testdataModules(t)
	delete(mods, "eh_legacy.wasm") // wazero runs only try_table
	mods["try_table"] = tryTableModule()
	for name, wasm := range mods {
		t.Run(name, func(t *testing.T) {
			c, err := rt.CompileModule(context.Background(), instrument(t, wasm, Options{MaxMemoryPages: 16}))
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if _, ok := c.ExportedFunctions()[InterruptExport]; ok {
				t.Error("the interrupt export is a function")
			}
			var found int
			for _, f := range c.ImportedFunctions() {
				if mod, name, _ := f.Import(); mod == InterruptModule {
					found++
					if name != InterruptFunc || len(f.ParamTypes())+len(f.ResultTypes()) != 0 {
						t.Errorf("imports %s.%s%v%v", mod, name, f.ParamTypes(), f.ResultTypes())
					}
				}
			}
			if found != 1 {
				t.Errorf("%d imports from %s, want 1", found, InterruptModule)
			}
		})
	}
}

// buildGoGuest compiles testdata/goguest with the Go toolchain for wasip1.
func buildGoGuest(t *testing.T) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go program for wasip1")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain on PATH")
	}
	out := filepath.Join(t.TempDir(), "guest.wasm")
	cmd := exec.Command(gobin, "build", "-o", out, "./testdata/goguest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return readFile(t, out)
}

func readFile(t *testing.T, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runGoGuest runs a WASI command's _start and returns its stdout.
func runGoGuest(t *testing.T, rt wazero.Runtime, bin []byte, args ...string) (string, api.Module, error) {
	var stdout bytes.Buffer
	mod := instantiate(t, rt, bin, wazero.NewModuleConfig().WithStdout(&stdout).WithArgs(append([]string{"guest"}, args...)...))
	_, err := mod.ExportedFunction("_start").Call(context.Background())
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	return stdout.String(), mod, err
}

func TestGoGuest(t *testing.T) {
	wasm := buildGoGuest(t)
	inst, info, err := Instrument(wasm, Options{MaxMemoryPages: 2048})
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	t.Logf("go guest: %d bytes, %d after instrumentation, %d bytes of custom sections stripped", len(wasm), len(inst), info.StrippedBytes)
	rt := newRuntime(t)
	wasi_snapshot_preview1.MustInstantiate(context.Background(), rt)

	want, _, err := runGoGuest(t, rt, wasm)
	if err != nil {
		t.Fatalf("plain: %v", err)
	}
	got, _, err := runGoGuest(t, rt, inst)
	if err != nil {
		t.Fatalf("instrumented: %v", err)
	}
	if got != want || !strings.Contains(got, `"sum"`) {
		t.Errorf("instrumented output %q, plain %q", got, want)
	}

	t.Run("spin is stopped", func(t *testing.T) {
		mod := instantiate(t, rt, inst, wazero.NewModuleConfig().WithArgs("guest", "spin"))
		callInterrupted(t, mod, "_start")
	})
}

// tryTableModule is, by hand since wabt 1.0.32 cannot assemble try_table:
//
//	(module
//	  (tag $e (param i32))
//	  (func (export "run") (param $n i32) (result i32) (local $sum i32) (local $i i32)
//	    (loop $l
//	      (block $h (result i32)
//	        (try_table (catch $e $h)
//	          (if (i32.gt_u (local.get $i) (i32.const 3)) (then (throw $e (local.get $i)))))
//	        (i32.const 0))
//	      (local.set $sum (i32.add (local.get $sum)))
//	      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
//	    (local.get $sum)))
//
// run(10) sums the values thrown and caught: 4+5+…+9 = 39.
func tryTableModule() []byte {
	code := []byte{
		0x03, 0x40, // loop
		0x02, 0x7f, // block (result i32)
		0x1f, 0x40, 0x01, 0x00, 0x00, 0x00, // try_table (catch tag 0 label 0)
		0x20, 0x02, 0x41, 0x03, 0x4b, // i > 3
		0x04, 0x40, 0x20, 0x02, 0x08, 0x00, 0x0b, // if: throw $e i
		0x0b,       // end try_table
		0x41, 0x00, // i32.const 0
		0x0b,                         // end block
		0x20, 0x01, 0x6a, 0x21, 0x01, // sum += caught
		0x20, 0x02, 0x41, 0x01, 0x6a, 0x22, 0x02, // i++
		0x20, 0x00, 0x49, 0x0d, 0x00, // br_if i < n
		0x0b,             // end loop
		0x20, 0x01, 0x0b, // sum
	}
	return wasmModule(
		sec(secType, vec([]byte{0x60, 0x01, 0x7f, 0x00}, []byte{0x60, 0x01, 0x7f, 0x01, 0x7f})),
		sec(secFunction, vec([]byte{0x01})),
		sec(secTag, vec([]byte{0x00, 0x00})),
		sec(secExport, vec(cat(str("run"), []byte{0x00, 0x00}))),
		sec(secCode, vec(cat(leb(uint32(3+len(code))), []byte{0x01, 0x02, 0x7f}, code))),
	)
}

// TestLargeModuleRuns checks the benchmark's synthetic module: valid, and
// the same result instrumented.
func TestLargeModuleRuns(t *testing.T) {
	rt := newRuntime(t)
	wasm := largeModule(3, 4)
	ctx := context.Background()
	want, err := instantiate(t, rt, wasm, nil).ExportedFunction("f").Call(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	got, err := instantiate(t, rt, instrument(t, wasm, Options{}), nil).ExportedFunction("f").Call(ctx, 7)
	if err != nil || got[0] != want[0] || want[0] != 7+4*12345 {
		t.Fatalf("f(7) = %v (%v) instrumented, %v plain; want %d", got, err, want, 7+4*12345)
	}
}
