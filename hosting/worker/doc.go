// Package worker runs tenants' WebAssembly workers in-process on wazero.
//
// It owns the wazero runtime (one per process), the compilation cache, the
// per-deployment pools of instances, the host side of the guest ABI
// (docs/workers.md: the http-wasm handler ABI in module "http_handler" and
// Pier's own imports in module "pier") and the per-request limits: guest CPU
// time, subrequests, linear memory and body sizes.
//
// Two kinds of module are accepted. An http-wasm reactor exports
// handle_request; its instances are created lazily up to Config.PoolSize per
// Worker and reused for many requests. A WAGI command exports _start instead;
// it gets a fresh instance per request and speaks CGI (RFC 3875) over WASI
// stdin, stdout and stderr.
//
// # CPU limit
//
// wazero's WithCloseOnContextDone slows CPU-bound guests down several times,
// so it is not used. Instead every module is rewritten at deploy time
// (internal/wasmrewrite) so that each function entry and loop header checks
// an exported mutable global; a timer armed for the request's remaining
// budget sets it, and the guest traps at its next check. The budget is paused
// while the guest waits on the network (pier.fetch, reading the request
// body) or on pier.asset.
//
// Known limitation: the timer is a goroutine, and compiled guest code has
// no Go safe point. If the garbage collector stops the world while a guest
// spins, the stop waits for the guest and the guest waits for the timer: the
// process hangs. The instrumentation must also make guest code exit to Go
// periodically (a countdown at the same checks that calls memory.grow 0
// every few thousand iterations stops a spinning guest under continuous GC
// at the same budget). Until wasmrewrite does, a runaway guest can hang the
// process when a collection starts during it.
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
