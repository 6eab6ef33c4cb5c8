// Package wasmrewrite owns the deploy-time transform of tenant WebAssembly
// modules that makes per-request CPU limits cheap to enforce.
//
// [Instrument] decodes a (hostile, tenant-uploaded) module, strips its custom
// sections, caps its memory and inserts an interrupt check at the entry of
// every function and at the head of every loop. The check reads an exported
// mutable global, [InterruptExport]; when the runtime sets it to a non-zero
// value, the guest calls an imported host function,
// [InterruptModule].[InterruptFunc], at its next function call or loop
// iteration. That function either traps (a Go panic) to stop the guest, or
// clears the flag and returns to let it go on: the guest has then left its
// compiled code for Go, where a stop-the-world pause of the garbage
// collector or the scheduler can take its thread. This is the same idea as
// wasmtime's epoch interruption (with its "yield" as well as its "trap"),
// and it costs a load, a compare and a predicted branch per check, where
// wazero's WithCloseOnContextDone exits to Go on every loop back-edge.
//
// Only the worker runtime, hosting/worker, imports this package.
//
// # Notes
//
//   - The decoder checks the module's structure (sections, their order and
//     sizes, every instruction and its immediates), not its types: the
//     output still has to be compiled by wazero, which validates it fully.
//   - Supported beyond MVP: sign extension, non-trapping float-to-int,
//     bulk memory, reference types, multi-value, SIMD, tail calls, threads
//     (atomics), extended constant expressions and exception handling (both
//     the legacy try/catch and try_table). Typed function references, GC,
//     relaxed SIMD, memory64 and the component model are rejected.
//   - A trap raised by the interrupt function is a Go panic, not a wasm
//     exception, so a guest's catch_all cannot swallow it.
//   - Adding the import shifts the index of every defined function by one;
//     every function index in the module is rewritten to match.
//
// # Delivering the interrupt
//
// Instrumented guest code never leaves native code on its own, and the Go
// runtime cannot preempt wazero's native code. Two consequences for whoever
// sets the flag:
//
//   - A stop-the-world pause (every GC cycle has two) that begins while a
//     guest runs waits until the guest reaches Go, and meanwhile no other
//     goroutine runs, including a timer goroutine that would set the flag.
//   - A guest holds its P for the whole call: with GOMAXPROCS running
//     guests, no P is left to run a timer.
//
// So the flag must be set by something the Go scheduler does not have to
// run. hosting/worker's kernelTimer sets it every millisecond while a
// guest runs: threads blocked in read(2) on a timerfd, with the global's
// storage as the buffer, so the kernel writes the expiration count
// (non-zero) there. The guest then calls the interrupt function, which
// reads its thread's CPU clock and stops it or lets it go on. wazero
// v1.12.0 exposes no address for a global, so finding its slot takes its
// internals, checked at start-up. The alternative, wazero's
// WithCloseOnContextDone, is preemptible because it exits to Go at every
// loop header, which is what makes it 6–25× slower.
package wasmrewrite
