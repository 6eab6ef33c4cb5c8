package wasmrewrite

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
)

// hashIterations is the work per call of the CPU-bound benchmarks.
const hashIterations = 10_000_000

// benchmarkHash runs hash.wasm's loops for 10M iterations in a runtime
// built from cfg: "hash" (FNV-1a and xorshift) and "sum" (the tightest loop,
// the worst case for a check per iteration).
func benchmarkHash(b *testing.B, cfg wazero.RuntimeConfig, instrumented bool) {
	ctx := context.Background()
	rt := newRuntimeWithConfig(b, cfg)
	wasm := readTestdata(b, "hash.wasm")
	if instrumented {
		wasm = instrument(b, wasm, Options{})
	}
	mod := instantiate(b, rt, wasm, nil)
	// A cancellable context, as the runtime would pass per request.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, fn := range []string{"hash", "sum"} {
		b.Run(fn, func(b *testing.B) {
			f := mod.ExportedFunction(fn)
			for b.Loop() {
				if _, err := f.Call(ctx, hashIterations); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlainLoop is the CPU-bound guest without any limit enforcement.
func BenchmarkPlainLoop(b *testing.B) {
	benchmarkHash(b, wazero.NewRuntimeConfigCompiler(), false)
}

// BenchmarkInstrumentedLoop is the same guest instrumented: its time over
// BenchmarkPlainLoop's is the cost of enforcing cpuMs (target ≤ 1.3×).
func BenchmarkInstrumentedLoop(b *testing.B) {
	benchmarkHash(b, wazero.NewRuntimeConfigCompiler(), true)
}

// BenchmarkCloseOnContextDoneLoop is the uninstrumented guest under
// wazero's own enforcement, the alternative to instrumentation.
func BenchmarkCloseOnContextDoneLoop(b *testing.B) {
	benchmarkHash(b, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true), false)
}

// BenchmarkInstrumentLargeModule instruments a synthetic module of about
// 4 MiB of code, loops in every function, and reports the throughput.
func BenchmarkInstrumentLargeModule(b *testing.B) {
	wasm := largeModule(800, 200)
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if _, _, err := Instrument(wasm, Options{MaxMemoryPages: 1024}); err != nil {
			b.Fatal(err)
		}
	}
}

// largeModule returns a valid module of funcs functions
// (func (param i32) (result i32)), each with chunks loops of a few dozen
// bytes of mixed instructions, and a debug section to strip.
func largeModule(funcs, chunks int) []byte {
	chunk := []byte{
		0x02, 0x40, // block
		0x03, 0x40, // loop
		0x20, 0x00, 0x41, 0xb9, 0xe0, 0x00, 0x6a, 0x21, 0x00, // x += 12345
		0x20, 0x00, 0x41, 0xff, 0x07, 0x71, 0x28, 0x02, 0x08, 0x1a, // drop (i32.load offset=8 (x & 1023))
		0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x1a, // drop (i64.const 2^35)
		0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a, // drop (f64.const 1)
		0x20, 0x00, 0x41, 0xe4, 0x00, 0x4b, 0x0d, 0x01, // br_if 1 (x > 100)
		0x0b, 0x0b, // end loop, end block
	}
	var code []byte
	for range chunks {
		code = append(code, chunk...)
	}
	code = append(code, 0x20, 0x00, 0x0b) // local.get 0, end
	b := cat([]byte{0x00}, code)          // no locals
	fn := cat(leb(uint32(len(b))), b)
	bodies := make([][]byte, funcs)
	types := make([][]byte, funcs)
	for i := range bodies {
		bodies[i], types[i] = fn, []byte{0x00}
	}
	return wasmModule(
		sec(secType, vec([]byte{0x60, 0x01, 0x7f, 0x01, 0x7f})),
		sec(secFunction, vec(types...)),
		sec(secMemory, vec([]byte{0x00, 0x01})),
		sec(secExport, vec(cat(str("f"), []byte{0x00, 0x00}))),
		sec(secCode, vec(bodies...)),
		sec(secCustom, str(".debug_info"), make([]byte, 1000)),
	)
}
