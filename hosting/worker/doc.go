// Package worker runs tenants' WebAssembly workers in-process on wazero.
//
// It owns the wazero runtime (one per process), the compilation cache, the
// per-deployment pools of instances, the host side of the guest ABI
// (docs/workers.md: the http-wasm handler ABI in module "http_handler" and
// Pier's own imports in module "pier", KV included: abi_kv.go, through a
// Host that implements KV) and the per-request limits: guest CPU time,
// subrequests, KV operations, linear memory and body sizes.
//
// Two kinds of module are accepted. An http-wasm reactor exports
// handle_request; its instances are created lazily up to Config.PoolSize per
// Worker and reused for many requests (plus, while all of those are busy,
// up to as many temporary ones, each used for one request). A WAGI command exports _start instead;
// it gets a fresh instance per request and speaks CGI (RFC 3875) over WASI
// stdin, stdout and stderr.
//
// # Compilation and cold start
//
// A module is instrumented (see CPU limit) with the same options whatever
// the tenant's plan, so its compiled code does not depend on the limits:
// Validate at deploy, Prewarm at boot and every NewWorker share one
// compiled module per process, kept for Config.KeepCompiled once unused.
// With Config.CacheDir the instrumented bytes are cached on disk
// (instrumentCache) beside wazero's compilation cache, so a restart skips
// both the rewrite and the compilation. wazero still decodes and validates
// a module on a cache hit (about 30 ms for a 3 MiB standard-Go guest);
// Prewarm takes that off the first request.
//
// # Memory limit
//
// The plan's memory cap is enforced by the allocator of each Worker's
// linear memories (memAllocator): growing past it fails inside the guest.
// Each instance's allocator counts those refusals (capturedMemory), so an
// invocation during which one happened is OutcomeExceededMemory even when
// the guest handled it and answered.
// On Linux memories are reservations of address space, grown in place and
// recycled through a pool.
//
// # CPU limit
//
// wazero's WithCloseOnContextDone slows CPU-bound guests down several times,
// so it is not used. Instead every module is rewritten at deploy time
// (internal/wasmrewrite) so that each function entry and loop header checks
// an exported mutable global and, when it is set, calls the interrupt
// function (meter.interrupted), which stops the guest (a trap) or lets it
// go on. The budget is CPU time of the guest's thread (the kernel's
// per-thread clock), so a guest preempted on a busy machine is not charged
// for the wait, and it is paused while the guest waits on the network
// (pier.fetch, reading the request body), on pier.asset or on the KV store
// (a get the host answers from memory, KVPeeker, does not wait).
//
// Compiled guest code has no Go safe point: a stop-the-world pause of the
// garbage collector that begins while a guest spins waits for the guest,
// and GOMAXPROCS spinning guests would leave no P for anything else (the
// run slots below prevent that), so a timer goroutine could not set the
// flag. On Linux a thread outside the Go runtime sets it: the node's
// ticker (see ticker), started with clone(2) from assembly, which every
// millisecond (checkEvery) sets the flag of every guest running at that
// moment. A guest registers its global's storage in the ticker's table
// when it starts or resumes and removes it when it stops: two memory
// stores per request, no system call. The guest then calls the interrupt
// function, which reads the thread's CPU clock: past the budget it traps,
// else it clears the flag and returns. So a runaway is stopped within
// about a millisecond of CPU past its budget however many guests run at
// once, a pause waits at most about a millisecond for a running guest,
// and every millisecond of a request (yieldEvery) the function also
// yields the guest's P to the goroutines queued on it (a neighbour's
// static request). The ticker parks on a futex after idleTicks ticks with
// no guest running; the next registration wakes it. Where the ticker's
// thread does not exist (it is amd64 and arm64 assembly; the arm64 one
// is tested under qemu-user, make test-arm64), each instance has a
// timerfd instead, and two threads blocked in read(2) on it with the
// global's storage as the buffer (see kernelTimer), armed when a guest
// starts or resumes and disarmed when it stops: two system calls per
// request, which cost a hello-world a quarter of its throughput through
// the edge on a virtual machine (go run ./internal/bench worker), but far
// less than leaving it armed (each firing while no guest runs wakes a
// reader thread that then holds a P in read(2) until the scheduler's
// monitor takes it back). wazero exposes no address for a global, so that
// storage is found through wazero's internals and confirmed with
// sentinels; if that fails (another wazero version, the interpreter,
// another OS) a Go timer checks the CPU clock instead and sets the flag
// at the budget, and a warning is logged once; off Linux the budget
// counts elapsed time. With kernelTimer each live pooled instance holds
// two OS threads, except the one a Worker keeps warm after
// Config.IdleTimeout, which releases them until its next request
// (meter.park; starting them again costs that request a fraction of a
// millisecond); with the ticker the process has one thread for all.
//
// # Sharing the node
//
// At most Config.MaxRunning guests compute at once (default GOMAXPROCS−1,
// at least 1), so static requests always find a P; a
// guest holds a run slot while it computes and gives it back while it
// waits on the host (instance.waitHost). Slots are shared by Owner (the
// edge passes the site and its tenant, NewOwnedWorker): a free slot goes
// to a guest resuming after a wait, then to the waiting request whose
// tenant, then site, holds the fewest slots and was served longest ago
// (scheduler). A request that waits Config.QueueTimeout is refused with
// OutcomeBusy (503 worker_busy).
//
// A request body is read whole, up to Limits.MaxRequestBody, before the
// request takes an instance or a slot (readBody), so a client sending it
// slowly holds neither; the bytes being received count against
// Config.MaxBufferedBodies, a quarter of it per site (bodyBudget). A
// client that times out or goes away is OutcomeClientError (408 or 400).
// Neither OutcomeBusy nor OutcomeClientError is an invocation
// (Result.Invoked): the guest never ran.
//
// # Supported parts of the http-wasm ABI
//
// Every function of the http_handler module listed in docs/workers.md is
// implemented with the signatures of the specification. Header kinds
// request (0) and response (1) are supported; trailers (2, 3) read as empty
// and writes to them are ignored. Features buffer_request and
// buffer_response are supported; trailers is not. Without buffer_response,
// handle_response runs after the next handler has already written its
// response: it may observe the status and headers, but its changes are not
// sent. Responses written by the guest itself are always buffered (up to
// Limits.MaxResponseBody) and sent when handle_request returns.
//
// This package imports no other Pier package; hosting (the edge) imports it
// and implements Host per request.
package worker
