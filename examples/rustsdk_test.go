package examples_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/worker"
)

// rustKVHost is testHost with what TestRustSDKKV also looks at: the TTL of
// each write, and a racer that changes a key just before the first
// compare-and-swap of a request.
type rustKVHost struct {
	*testHost
	mu    sync.Mutex
	ttl   map[string]time.Duration
	racer func(kv map[string][]byte, key string)
	raced bool
}

func (h *rustKVHost) KVPut(ctx context.Context, binding, key string, value []byte, ttl time.Duration) error {
	h.mu.Lock()
	h.ttl[key] = ttl
	h.mu.Unlock()
	return h.testHost.KVPut(ctx, binding, key, value, ttl)
}

func (h *rustKVHost) KVCompareAndSwap(ctx context.Context, binding, key string, old []byte, oldExists bool, value []byte, ttl time.Duration) error {
	h.mu.Lock()
	if h.racer != nil && !h.raced {
		h.raced = true
		h.testHost.mu.Lock()
		h.racer(h.testHost.kv, key)
		h.testHost.mu.Unlock()
	}
	h.mu.Unlock()
	return h.testHost.KVCompareAndSwap(ctx, binding, key, old, oldExists, value, ttl)
}

// TestRustSDKKV runs every KV call of the Rust SDK (sdk/rust), from the
// guest in examples/testdata/rust-sdk-guest, through the real runtime:
// values larger than the SDK's first buffer, TTLs, pages of keys,
// compare-and-swap and update's retry after a conflict, each error with
// the limit it names, secrets, and a panic's message in the log.
func TestRustSDKKV(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm module; skipped with -short")
	}
	const cargo = "/usr/bin/cargo"
	if _, err := os.Stat(cargo); err != nil {
		missing(t, "Debian's cargo not installed (make -C examples deps-rust)")
	}
	dir := filepath.Join("testdata", "rust-sdk-guest")
	cmd := exec.Command(cargo, "build", "--offline", "--quiet", "--release", "--target", "wasm32-wasi")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RUSTC=/usr/bin/rustc")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cargo build: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "target", "wasm32-wasi", "release", "rust_sdk_guest.wasm"))
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	rt, err := worker.New(ctx, worker.Config{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	// One Worker per KVOps limit the cases use (0: the default, 1000).
	workers := map[int]*worker.Worker{}
	workerWith := func(t *testing.T, kvOps int) *worker.Worker {
		if w := workers[kvOps]; w != nil {
			return w
		}
		w, err := rt.NewWorker(ctx, wasm, map[string]string{"API_KEY": "sekrit"},
			worker.Limits{CPU: 5 * time.Second, StartupCPU: 10 * time.Second, KVOps: kvOps, KVValueBytes: 4096})
		if err != nil {
			t.Fatalf("NewWorker: %v", err)
		}
		workers[kvOps] = w
		return w
	}
	defer func() {
		for _, w := range workers {
			w.Close(ctx)
		}
	}()
	host := &rustKVHost{testHost: &testHost{kv: map[string][]byte{"big": []byte(strings.Repeat("x", 5000))}}, ttl: map[string]time.Duration{}}

	cases := []struct {
		name, uri string
		binding   string // X-Binding: the guest uses the binding OTHER
		kvOps     int
		racer     func(kv map[string][]byte, key string)
		status    int    // 0: nothing written (a trap)
		body      string // the whole body, or with a trailing "…" its prefix
		ops       int    // KV operations that reached the store
		outcome   string // default worker.OutcomeOK
	}{
		{name: "absent", uri: "/get?key=a%2Fb", status: 404, body: "not found\n", ops: 1},
		{name: "put", uri: "/put?key=a%2Fb&v=hello", status: 200, body: "put", ops: 1},
		{name: "get", uri: "/get?key=a%2Fb", status: 200, body: "hello", ops: 1},
		{name: "larger than the first buffer, one op", uri: "/get?key=big", kvOps: 1, status: 200, body: "len 5000", ops: 1},
		{name: "put with a TTL", uri: "/put?key=t&v=1&ttl=60", status: 200, body: "put", ops: 1},
		{name: "list first page", uri: "/list?key=&limit=2", status: 200, body: "a/b,big cursor=big", ops: 1},
		{name: "list next page", uri: "/list?key=&limit=2&cursor=big", status: 200, body: "t cursor=", ops: 1},
		{name: "list by prefix", uri: "/list?key=a", status: 200, body: "a/b cursor=", ops: 1},
		{name: "update after a conflict", uri: "/inc?key=n", racer: func(kv map[string][]byte, key string) { kv[key] = []byte("41") },
			status: 200, body: "42", ops: 4},
		{name: "update", uri: "/inc?key=n", status: 200, body: "43", ops: 2},
		{name: "update of an absent key", uri: "/inc?key=fresh", status: 200, body: "1", ops: 2},
		{name: "cas only if absent, present", uri: "/cas-new?key=fresh&v=9", status: 200, body: "written=false", ops: 1},
		{name: "cas only if absent, absent", uri: "/cas-new?key=new&v=9", status: 200, body: "written=true", ops: 1},
		{name: "delete", uri: "/del?key=a%2Fb", status: 200, body: "deleted", ops: 1},
		{name: "deleted", uri: "/get?key=a%2Fb", status: 404, body: "not found\n", ops: 1},
		{name: "delete absent", uri: "/del?key=a%2Fb", status: 200, body: "deleted", ops: 1},
		{name: "empty key", uri: "/get?key=", status: 500, body: "kv_invalid pier: kv_invalid: invalid KV key…"},
		{name: "key too long", uri: "/put?key=" + strings.Repeat("k", 513) + "&v=1", status: 500, body: "kv_invalid …"},
		{name: "list limit too large", uri: "/list?key=&limit=1001", status: 500, body: "kv_invalid …"},
		{name: "value too large", uri: "/put?key=v&v=" + strings.Repeat("v", 4097), status: 500,
			body: "kv_value_too_large pier: kv_value_too_large: the value exceeds the plan's kvValueKB limit"},
		{name: "op limit", uri: "/get?key=n", kvOps: -1, status: 500, outcome: worker.OutcomeExceededKVOps,
			body: "kv_op_limit pier: kv_op_limit: the plan's kvOps limit (KV operations per request) is used up"},
		{name: "update runs out of ops", uri: "/inc?key=n", kvOps: 3, racer: func(kv map[string][]byte, key string) { kv[key] = []byte("0") },
			status: 500, body: "kv_op_limit …", ops: 3, outcome: worker.OutcomeExceededKVOps},
		{name: "unbound", uri: "/get?key=n", binding: "OTHER", status: 500, ops: 1,
			body: "kv_unbound pier: kv_unbound: no KV namespace is bound under that name in this deployment"},
		{name: "secret", uri: "/var?key=API_KEY", status: 200, body: "sekrit"},
		{name: "secret unset", uri: "/var?key=NOPE", status: 200, body: "unset"},
		// A trap: Serve leaves the 500 to the edge and writes nothing.
		{name: "panic", uri: "/panic?key=boom", outcome: worker.OutcomeException},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := workerWith(t, tc.kvOps)
			host.racer, host.raced = tc.racer, false
			req := httptest.NewRequest("GET", "http://site.example"+tc.uri, nil)
			if tc.binding != "" {
				req.Header.Set("X-Binding", tc.binding)
			}
			rec := httptest.NewRecorder()
			res := w.Serve(rec, req, host, static)
			outcome := tc.outcome
			if outcome == "" {
				outcome = worker.OutcomeOK
			}
			if res.Outcome != outcome {
				t.Fatalf("outcome %s, want %s: %v (logs: %s)", res.Outcome, outcome, res.Err, host.logText())
			}
			want, prefix := strings.CutSuffix(tc.body, "…")
			got := rec.Body.String()
			if tc.status == 0 {
				if got != "" {
					t.Errorf("body %q, want none", got)
				}
			} else if rec.Code != tc.status || (prefix && !strings.HasPrefix(got, want)) || (!prefix && got != want) {
				t.Errorf("%d %q, want %d %q", rec.Code, got, tc.status, tc.body)
			}
			if ops := res.KVReads + res.KVWrites; ops != tc.ops {
				t.Errorf("%d KV operations reached the store, want %d", ops, tc.ops)
			}
		})
	}
	if got := host.ttl["t"]; got != time.Minute {
		t.Errorf("TTL of t: %v, want 1m0s", got)
	}
	// The SDK's _initialize installed a panic hook that logs the message.
	if log := host.logText(); !strings.Contains(log, "worker panicked: panicked at 'on purpose: boom'") {
		t.Errorf("logs %q, want the panic's message", log)
	}
}
