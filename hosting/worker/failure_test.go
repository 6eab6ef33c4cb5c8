package worker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestFailureText pins what a failed invocation reports: the code,
// status and message the caller answers with, and the Detail the site's
// log stream shows, each saying what happened once, in words.
func TestFailureText(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	tests := []struct {
		name    string
		guest   string
		lim     Limits
		req     func() *http.Request
		closed  bool
		outcome string
		status  int
		code    string
		message string
		detail  string
	}{
		{
			name: "CPU limit of a plain loop", guest: "loop", lim: Limits{CPU: 20 * time.Millisecond},
			outcome: OutcomeExceededCPU, status: 503, code: "worker_cpu_exceeded",
			message: "the worker exceeded its CPU time limit of 20 ms",
			detail:  "worker exceeded its CPU limit of 20 ms",
		},
		{
			name: "CPU limit of a command", guest: "cgiloop", lim: Limits{CPU: 20 * time.Millisecond},
			outcome: OutcomeExceededCPU, status: 503, code: "worker_cpu_exceeded",
			message: "the worker exceeded its CPU time limit of 20 ms",
			detail:  "worker exceeded its CPU limit of 20 ms",
		},
		{
			name: "memory limit", guest: "growtrap", lim: Limits{MemoryBytes: 1 << 20},
			outcome: OutcomeExceededMemory, status: 500, code: "worker_memory_exceeded",
			message: "the worker exceeded its memory limit",
			detail:  "worker exceeded its memory limit of 1 MiB",
		},
		{
			name: "response too large", guest: "bigbody", lim: Limits{MaxResponseBody: 10 << 10},
			outcome: OutcomeResponseTooLarge, status: 502, code: "worker_response_too_large",
			message: "the worker's response exceeded the size limit",
			detail:  "worker's response exceeded the size limit of 10 KiB",
		},
		{
			name: "request too large", guest: "echo", lim: Limits{MaxRequestBody: 10},
			req: func() *http.Request {
				return httptest.NewRequest("POST", "http://site.example/", strings.NewReader("more than ten bytes"))
			},
			outcome: OutcomeRequestTooLarge, status: 413, code: "request_too_large",
			message: "the request body exceeds the size limit",
			detail:  "request body exceeded the size limit of 10 bytes",
		},
		{
			name: "trap", guest: "counter",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "http://site.example/", nil)
				r.Header.Set("X-Trap", "1")
				return r
			},
			outcome: OutcomeException, status: 500, code: "worker_exception",
			message: "the worker failed",
			detail:  "worker failed: wasm error: unreachable",
		},
		{
			name: "non-zero exit", guest: "cgiexit",
			outcome: OutcomeException, status: 500, code: "worker_exception",
			message: "the worker failed",
			detail:  "worker failed: exited with status 3",
		},
		{
			name: "closed worker", guest: "hello", closed: true,
			outcome: OutcomeCanceled, status: 503, code: "worker_unavailable",
			message: "the worker is busy",
			detail:  "worker was replaced while the request waited for it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorker(t, rt, tt.guest, nil, tt.lim)
			if tt.closed {
				if err := w.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			req := httptest.NewRequest("GET", "http://site.example/", nil)
			if tt.req != nil {
				req = tt.req()
			}
			host := &fakeHost{}
			rec := httptest.NewRecorder()
			res := w.Serve(rec, req, host, noNext(t))
			if res.Outcome != tt.outcome {
				t.Fatalf("outcome %q (%v), want %q", res.Outcome, res.Err, tt.outcome)
			}
			if res.Status != tt.status || res.Code != tt.code || res.Message != tt.message {
				t.Errorf("answer %d %q %q, want %d %q %q", res.Status, res.Code, res.Message, tt.status, tt.code, tt.message)
			}
			if res.Detail != tt.detail {
				t.Errorf("Detail = %q, want %q", res.Detail, tt.detail)
			}
			if rec.Body.Len() > 0 || len(rec.Header()) > 0 {
				t.Errorf("Serve wrote %v %q; the caller answers failures", rec.Header(), rec.Body)
			}
			if l := host.logged(); len(l) != 0 {
				t.Errorf("logged %q; the failure is reported once, in the Result", l)
			}
		})
	}
}

// TestModuleErrorText pins the text a deploy shows for a module that is
// not WebAssembly: what is wrong, once.
func TestModuleErrorText(t *testing.T) {
	rt := newRuntime(t, Config{})
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"not wasm", []byte("\x7fELF not a module"), "worker: invalid module: not a valid WebAssembly module (not a WebAssembly binary at offset 0)"},
		{"empty", nil, "worker: invalid module: not a valid WebAssembly module (not a WebAssembly binary at offset 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rt.Validate(context.Background(), tt.wasm)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestUnits(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"whole milliseconds", millis(50 * time.Millisecond), "50 ms"},
		{"a second", millis(time.Second), "1000 ms"},
		{"fraction", millis(1500 * time.Microsecond), "1.5 ms"},
		{"MiB", size(128 << 20), "128 MiB"},
		{"KiB", size(10 << 10), "10 KiB"},
		{"bytes", size(1000), "1000 bytes"},
		{"not a whole MiB", size(3<<20 + 512), "3146240 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}
