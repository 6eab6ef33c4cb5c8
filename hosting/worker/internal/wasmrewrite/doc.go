// Package wasmrewrite owns the deploy-time transform of tenant WebAssembly
// modules that makes per-request CPU limits cheap to enforce.
//
// [Instrument] decodes a (hostile, tenant-uploaded) module, strips its custom
// sections, caps its memory and inserts an interrupt check at the entry of
// every function and at the head of every loop. The check reads an exported
// mutable global, [InterruptExport]; the runtime sets it to a non-zero value
// from a timer when a request's CPU budget runs out, and the guest then traps
// with `unreachable` at its next function call or loop iteration. This is the
// same idea as wasmtime's epoch interruption, and it costs a load, a compare
// and a predicted branch per check, where wazero's WithCloseOnContextDone
// exits to Go on every loop back-edge.
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
//   - A trap raised by the interrupt check is a trap, not an exception, so
//     a guest's catch_all cannot swallow it.
//
// # Delivering the interrupt
//
// Instrumented guest code never leaves native code on its own, and the Go
// runtime cannot preempt wazero's native code. Two consequences for whoever
// sets the flag:
//
//   - A stop-the-world pause (every GC cycle has two) that begins while a
//     guest runs waits until the guest returns, and meanwhile no other
//     goroutine runs, including the timer goroutine that would set the flag:
//     a runaway guest then hangs the whole process.
//   - A guest holds its P for the whole call: with GOMAXPROCS runaway guests
//     at once, no P is left to run the timer.
//
// So the flag must be set by something the Go scheduler does not have to
// run. hosting/worker's kernelTimer works under a pause and with a single P
// (its TestRunawayDuringGC and TestConcurrentRunaways): a goroutine locked
// to its thread blocks in read(2) on a timerfd, with the global's storage
// as the buffer; when the timer expires the kernel writes the expiration
// count (non-zero) there, and the guest traps. The read must be under way
// before the guest starts (a reader still in Go code is stopped with the
// world), and wazero v1.12.0
// exposes no address for a global, so finding its slot takes its internals,
// to be checked at start-up. The alternative, wazero's
// WithCloseOnContextDone, is preemptible because it exits to Go at every
// loop header, which is what makes it 6–25× slower.
package wasmrewrite
