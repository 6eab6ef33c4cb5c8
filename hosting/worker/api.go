package worker

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Errors a Host returns (wrapped or not); Serve maps them to the guest's
// negative results (docs/workers.md §2).
var (
	// ErrEgressDenied: the egress policy refused the destination.
	ErrEgressDenied = errors.New("worker: egress denied")
	// ErrResponseTooLarge: a subrequest's response exceeded the size cap.
	ErrResponseTooLarge = errors.New("worker: response too large")
	// ErrAssetNotFound: the deployment has no asset at that path.
	ErrAssetNotFound = errors.New("worker: asset not found")
)

// Outcomes of a worker invocation, as Result.Outcome and the log stream
// name them.
const (
	// OutcomeOK: the guest answered (or fell through to next).
	OutcomeOK = "ok"
	// OutcomeException: the guest trapped, exited, overflowed its stack or
	// wrote an invalid response; the client got 500 worker_exception.
	OutcomeException = "exception"
	// OutcomeExceededCPU: the guest used up Limits.CPU and was stopped; the
	// client got 503 worker_cpu_exceeded.
	OutcomeExceededCPU = "exceededCpu"
	// OutcomeExceededSubrequests: the guest was refused a fetch past
	// Limits.SubRequests but answered anyway.
	OutcomeExceededSubrequests = "exceededSubrequests"
	// OutcomeExceededKVOps: the guest was refused a KV operation past
	// Limits.KVOps (kv_op_limit) but answered anyway.
	OutcomeExceededKVOps = "exceededKvOps"
	// OutcomeExceededMemory: the guest trapped with its memory near
	// Limits.MemoryBytes (growing past the cap fails inside the guest); the
	// client got 500 worker_memory_exceeded.
	OutcomeExceededMemory = "exceededMemory"
	// OutcomeResponseTooLarge: the guest's response exceeded
	// Limits.MaxResponseBody; the client got 502 worker_response_too_large.
	OutcomeResponseTooLarge = "responseTooLarge"
	// OutcomeRequestTooLarge: the request body exceeded
	// Limits.MaxRequestBody; the client got 413 request_too_large.
	OutcomeRequestTooLarge = "requestTooLarge"
	// OutcomeCanceled: the request was canceled while waiting for a free
	// instance; the client got 503 worker_unavailable.
	OutcomeCanceled = "canceled"
	// OutcomeBusy: the guest did not run: the request waited
	// Config.QueueTimeout for a run slot, or its body found no room in
	// Config.MaxBufferedBodies. The platform's failure, not the worker's
	// (not an invocation); the client got 503 worker_busy.
	OutcomeBusy = "busy"
	// OutcomeCPURateLimited: the guest did not run: its tenant's workers
	// had used Limits.CPURate. The tenant's limit, not a failure of the
	// worker (not an invocation); the client got 429
	// worker_cpu_rate_exceeded with Result.RetryAfter.
	OutcomeCPURateLimited = "cpuRateLimited"
	// OutcomeClientError: the guest did not run: the client did not send
	// its request body in time (408 request_timeout) or completely (400
	// request_body_incomplete). The client's failure, not the worker's
	// (not an invocation).
	OutcomeClientError = "clientError"
)

// Invoked reports whether the guest ran (or was about to) for this
// Result: false for OutcomeBusy, OutcomeCPURateLimited and
// OutcomeClientError, which the caller counts as requests but not as
// invocations.
func (r *Result) Invoked() bool {
	return r.Outcome != OutcomeBusy && r.Outcome != OutcomeClientError && r.Outcome != OutcomeCPURateLimited
}

// Host is what one request's guest may reach outside itself. The edge
// implements it per request: egress policy, the deployment's own assets, the
// site's log stream. Serve calls it from the goroutine that called Serve.
type Host interface {
	// Fetch performs one outbound subrequest. req is an absolute http(s)
	// request carrying the request's context. Fetch must not follow
	// redirects (the guest does, and each one counts against
	// Limits.SubRequests; Serve counts and refuses them before calling
	// Fetch). Errors may wrap ErrEgressDenied or ErrResponseTooLarge; any
	// other error is reported to the guest as a network error. The caller
	// reads and closes the body.
	Fetch(ctx context.Context, req *http.Request) (*http.Response, error)
	// Asset returns the deployment's static asset at path as the edge would
	// serve it (headers from _headers included), or an error wrapping
	// ErrAssetNotFound. The caller reads and closes the body.
	Asset(ctx context.Context, path string) (*http.Response, error)
	// Log appends one line of the guest's output to the site's log stream.
	// It must not block.
	Log(line string)
}

// Limits are the per-request limits of a Worker, from the tenant's plan.
// A zero field means the documented default.
type Limits struct {
	// CPU is the guest execution time allowed per request, time spent
	// waiting on fetch, asset or the request body excluded. Default 50ms.
	CPU time.Duration
	// CPURate is how much guest execution time per second the Worker's
	// Owner's tenant may use on the node, all its Workers together: a
	// token bucket holding a second's worth, from which each request
	// reserves CPU when it starts and gets back what it did not use. A
	// request that finds it empty is refused (OutcomeCPURateLimited). The
	// latest Worker created for a tenant sets its rate. 0: no limit.
	CPURate time.Duration
	// StartupCPU is the guest execution time allowed to a reactor's
	// _initialize (a Go guest starts its runtime there). Default 1s.
	StartupCPU time.Duration
	// SubRequests is the number of fetch calls allowed per request;
	// the next one returns -1 in the guest. Default 50; negative means none.
	SubRequests int
	// KVOps is the number of KV operations (kv_get, kv_put, kv_delete,
	// kv_list, kv_cas) allowed per request; the next one returns -7
	// kv_op_limit in the guest. Default 1000; negative means none.
	KVOps int
	// KVValueBytes caps a value the guest writes to KV (-9
	// kv_value_too_large). Default 1 MiB.
	KVValueBytes int64
	// MemoryBytes caps each instance's linear memory (rounded down to
	// 64 KiB pages). Default 128 MiB.
	MemoryBytes int64
	// MaxRequestBody caps the request body the guest can read; over it the
	// client gets 413. Default 16 MiB.
	MaxRequestBody int64
	// MaxResponseBody caps the response body the guest writes, and each
	// fetched or asset response held for it. Default 32 MiB.
	MaxResponseBody int64
}

func (l Limits) withDefaults() Limits {
	if l.CPU <= 0 {
		l.CPU = 50 * time.Millisecond
	}
	if l.StartupCPU <= 0 {
		l.StartupCPU = time.Second
	}
	switch {
	case l.SubRequests == 0:
		l.SubRequests = 50
	case l.SubRequests < 0:
		l.SubRequests = 0
	}
	switch {
	case l.KVOps == 0:
		l.KVOps = 1000
	case l.KVOps < 0:
		l.KVOps = 0
	}
	if l.KVValueBytes <= 0 {
		l.KVValueBytes = 1 << 20
	}
	if l.MemoryBytes <= 0 {
		l.MemoryBytes = 128 << 20
	}
	if l.MemoryBytes < wasmPageSize {
		l.MemoryBytes = wasmPageSize
	}
	if l.MemoryBytes > maxMemoryPages*wasmPageSize {
		l.MemoryBytes = maxMemoryPages * wasmPageSize
	}
	if l.MaxRequestBody <= 0 {
		l.MaxRequestBody = 16 << 20
	}
	if l.MaxResponseBody <= 0 {
		l.MaxResponseBody = 32 << 20
	}
	return l
}

const (
	wasmPageSize   = 65536
	maxMemoryPages = 65536
)

// Result is what happened in one Serve call.
type Result struct {
	// Outcome is one of the Outcome constants.
	Outcome string
	// Status is the HTTP status written to the client (0 if next wrote
	// it) or, when Code is set, the one the caller must answer with.
	Status int
	// Code is set when the invocation failed before a response was
	// written: Serve wrote nothing, and the caller answers the client with
	// Status, this stable error code (worker_cpu_exceeded, …) and Message.
	Code string
	// Message goes with Code: safe to show the client.
	Message string
	// Detail says what went wrong in a failed invocation, once and in
	// words ("worker exceeded its CPU limit of 50 ms", "worker failed:
	// wasm error: integer divide by zero"), for the site's log stream and
	// the platform's logs; "" when nothing did. It names the guest's
	// failure but no platform internals.
	Detail string
	// CPU is the guest execution time charged to the request.
	CPU time.Duration
	// SubRequests is the number of fetch calls the guest made, refused ones
	// included.
	SubRequests int
	// KVReads and KVWrites count the guest's KV operations that reached
	// the store or its cache (kv_get and kv_list; kv_put, kv_delete and
	// kv_cas); refused and invalid ones are not counted. KVBytes is the
	// bytes they moved: values read and written, and listings.
	KVReads, KVWrites int
	KVBytes           int64
	// RetryAfter is, with OutcomeCPURateLimited, when the tenant's
	// workers may run again.
	RetryAfter time.Duration
	// Err is the internal cause of a failure (a trap with its stack
	// trace, …), for debugging; never shown to the client.
	Err error
}

// ModuleError is a module rejected at deploy (or NewWorker) time. Msg says
// what is wrong, once, and is safe to show to the tenant; its Error is
// "worker: invalid module: " + Msg.
type ModuleError struct {
	Msg string
	Err error // the underlying cause, if any (already described by Msg)
}

func (e *ModuleError) Error() string { return "worker: invalid module: " + e.Msg }

func (e *ModuleError) Unwrap() error { return e.Err }
