package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// kvHost is a host written from the KV ABI of docs/workers.md (module
// pier: kv_get, kv_put, kv_delete, kv_list, kv_cas and their negative
// results), plus request_head, send_response, get_var and log, for testing
// the Rust SDK's side of that ABI (sdk/rust) on its own.
type kvHost struct {
	store    map[string][]byte // the namespace bound as STORE
	ttl      map[string]int64
	maxOps   int
	maxValue int
	racer    func(key string) // runs before the first kv_cas of a request

	// per request
	uri, binding string
	ops          int
	last         string // the previous kv_* call, for the free repeat of kv_get and kv_list
	casCalls     int
	status       uint32
	ctype, body  string
	secrets      map[string]string
	logs         []string
}

const (
	kvNotFound     = -6
	kvOpLimit      = -7
	kvInvalid      = -8
	kvValueTooBig  = -9
	kvUnbound      = -10
	kvConflict     = -12
	kvOldAbsent    = 0xFFFFFFFF
	kvMaxKeyBytes  = 512
	kvMaxListLimit = 1000
)

func read(m api.Module, ptr, n uint32) string {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Sprintf("out of range: %d+%d", ptr, n))
	}
	return string(b)
}

// fill writes v at buf if it fits in limit and returns its length.
func fill(m api.Module, buf, limit uint32, v []byte) int32 {
	if len(v) <= int(limit) && !m.Memory().Write(buf, v) {
		panic("out of range")
	}
	return int32(len(v))
}

// op checks the binding and key and counts an operation; call names the
// call for the free repeat (a kv_get or kv_list repeated at once).
func (h *kvHost) op(m api.Module, bp, bl, kp, kl uint32, call string) (string, int32) {
	free := call != "" && call == h.last
	h.last = call
	if read(m, bp, bl) != "STORE" {
		return "", kvUnbound
	}
	key := read(m, kp, kl)
	if !free {
		if h.ops >= h.maxOps {
			return "", kvOpLimit
		}
		h.ops++
	}
	return key, 0
}

func validKey(k string) bool {
	return k != "" && len(k) <= kvMaxKeyBytes && utf8.ValidString(k) && !strings.Contains(k, "\x00")
}

func (h *kvHost) instantiate(ctx context.Context, t *testing.T, rt wazero.Runtime) {
	hh := rt.NewHostModuleBuilder("http_handler")
	hh.NewFunctionBuilder().WithFunc(func(context.Context, api.Module, uint32, uint32, uint32) uint64 { return 1 << 32 }).Export("read_body")
	if _, err := hh.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	b := rt.NewHostModuleBuilder("pier")
	def := func(name string, fn any) { b.NewFunctionBuilder().WithFunc(fn).Export(name) }
	def("log", func(_ context.Context, m api.Module, p, n uint32) { h.logs = append(h.logs, read(m, p, n)) })
	def("request_head", func(_ context.Context, m api.Module, buf, limit uint32) uint32 {
		head := "GET\x00" + h.uri + "\x00HTTP/1.1\x00192.0.2.1:1234\x000\x00Host\x00site.example\x00"
		if h.binding != "" {
			head += "X-Binding\x00" + h.binding + "\x00"
		}
		return uint32(fill(m, buf, limit, []byte(head)))
	})
	def("send_response", func(_ context.Context, m api.Module, status, hp, hl, bp, bl uint32) {
		h.status, h.body = status, read(m, bp, bl)
		parts := strings.Split(read(m, hp, hl), "\x00")
		if len(parts) > 1 && parts[0] == "Content-Type" {
			h.ctype = parts[1]
		}
	})
	def("get_var", func(_ context.Context, m api.Module, np, nl, buf, limit uint32) int32 {
		v, ok := h.secrets[read(m, np, nl)]
		if !ok {
			return -1
		}
		return fill(m, buf, limit, []byte(v))
	})
	def("kv_get", func(_ context.Context, m api.Module, bp, bl, kp, kl, buf, limit uint32) int32 {
		key, errno := h.op(m, bp, bl, kp, kl, "get "+read(m, kp, kl))
		if errno != 0 {
			return errno
		}
		if !validKey(key) {
			return kvInvalid
		}
		v, ok := h.store[key]
		if !ok {
			return kvNotFound
		}
		return fill(m, buf, limit, v)
	})
	def("kv_put", func(_ context.Context, m api.Module, bp, bl, kp, kl, vp, vl uint32, ttl int64) int32 {
		key, errno := h.op(m, bp, bl, kp, kl, "")
		switch {
		case errno != 0:
			return errno
		case !validKey(key) || ttl < 0:
			return kvInvalid
		case int(vl) > h.maxValue:
			return kvValueTooBig
		}
		h.store[key], h.ttl[key] = []byte(read(m, vp, vl)), ttl
		return 0
	})
	def("kv_delete", func(_ context.Context, m api.Module, bp, bl, kp, kl uint32) int32 {
		key, errno := h.op(m, bp, bl, kp, kl, "")
		if errno != 0 {
			return errno
		}
		delete(h.store, key)
		return 0
	})
	def("kv_list", func(_ context.Context, m api.Module, bp, bl, pp, pl, cp, cl, limit, buf, bufLimit uint32) int32 {
		prefix, cursor := read(m, pp, pl), read(m, cp, cl)
		_, errno := h.op(m, bp, bl, pp, pl, fmt.Sprintf("list %q %q %d", prefix, cursor, limit))
		if errno != 0 {
			return errno
		}
		if limit > kvMaxListLimit {
			return kvInvalid
		}
		if limit == 0 {
			limit = kvMaxListLimit
		}
		var keys []string
		for k := range h.store {
			if strings.HasPrefix(k, prefix) && k > cursor {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		next := ""
		if len(keys) > int(limit) {
			keys = keys[:limit]
			next = keys[len(keys)-1]
		}
		var out bytes.Buffer
		for _, k := range append(keys, next) {
			out.WriteString(k + "\x00")
		}
		return fill(m, buf, bufLimit, out.Bytes())
	})
	def("kv_cas", func(_ context.Context, m api.Module, bp, bl, kp, kl, op, ol, np, nl uint32, ttl int64) int32 {
		key, errno := h.op(m, bp, bl, kp, kl, "")
		switch {
		case errno != 0:
			return errno
		case !validKey(key) || ttl < 0:
			return kvInvalid
		case int(nl) > h.maxValue:
			return kvValueTooBig
		}
		if h.casCalls++; h.casCalls == 1 && h.racer != nil {
			h.racer(key)
		}
		cur, exists := h.store[key]
		if ol == kvOldAbsent && exists || ol != kvOldAbsent && (!exists || string(cur) != read(m, op, ol)) {
			return kvConflict
		}
		h.store[key], h.ttl[key] = []byte(read(m, np, nl)), ttl
		return 0
	})
	for _, name := range []string{"fetch", "asset"} {
		def(name, func(context.Context, api.Module, uint32, uint32) int32 { return -3 })
	}
	def("response_read", func(context.Context, api.Module, uint32, uint32, uint32) int32 { return 0 })
	def("response_close", func(context.Context, api.Module, uint32) {})
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRustSDKKV runs the Rust SDK's KV calls (examples/testdata/rust-sdk-guest)
// against kvHost: values larger than the SDK's first buffer, the free
// repeat, TTLs, pages of keys, compare-and-swap and update's retry after
// a conflict, every error with the limit it names, and a panic's message
// in the log.
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
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	h := &kvHost{
		store:   map[string][]byte{"big": bytes.Repeat([]byte("x"), 5000)},
		ttl:     map[string]int64{},
		secrets: map[string]string{"API_KEY": "sekrit"},
	}
	h.instantiate(ctx, t, rt)
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)

	cases := []struct {
		name, uri string
		binding   string
		maxOps    int
		racer     func(key string)
		status    uint32
		body      string // the whole body, or with a trailing "…" its prefix
		ops       int
		check     func(t *testing.T)
	}{
		{name: "absent", uri: "/get?key=a%2Fb", status: 404, body: "not found\n", ops: 1},
		{name: "put", uri: "/put?key=a%2Fb&v=hello", status: 200, body: "put", ops: 1},
		{name: "get", uri: "/get?key=a%2Fb", status: 200, body: "hello", ops: 1},
		{name: "larger than the first buffer, one op", uri: "/get?key=big", status: 200, body: "len 5000", ops: 1},
		{name: "put with a TTL", uri: "/put?key=t&v=1&ttl=60", status: 200, body: "put", ops: 1, check: func(t *testing.T) {
			if h.ttl["t"] != 60 {
				t.Errorf("ttl %d, want 60", h.ttl["t"])
			}
		}},
		{name: "list first page", uri: "/list?key=&limit=2", status: 200, body: "a/b,big cursor=big", ops: 1},
		{name: "list next page", uri: "/list?key=&limit=2&cursor=big", status: 200, body: "t cursor=", ops: 1},
		{name: "list by prefix", uri: "/list?key=a", status: 200, body: "a/b cursor=", ops: 1},
		{name: "update after a conflict", uri: "/inc?key=n", racer: func(key string) { h.store[key] = []byte("41") }, status: 200, body: "42", ops: 4},
		{name: "update", uri: "/inc?key=n", status: 200, body: "43", ops: 2},
		{name: "update of an absent key", uri: "/inc?key=fresh", status: 200, body: "1", ops: 2},
		{name: "cas only if absent, present", uri: "/cas-new?key=fresh&v=9", status: 200, body: "written=false", ops: 1},
		{name: "cas only if absent, absent", uri: "/cas-new?key=new&v=9", status: 200, body: "written=true", ops: 1},
		{name: "delete", uri: "/del?key=a%2Fb", status: 200, body: "deleted", ops: 1},
		{name: "deleted", uri: "/get?key=a%2Fb", status: 404, body: "not found\n", ops: 1},
		{name: "delete absent", uri: "/del?key=a%2Fb", status: 200, body: "deleted", ops: 1},
		{name: "empty key", uri: "/get?key=", status: 500, body: "kv_invalid pier: kv_invalid: invalid KV key…", ops: 1},
		{name: "key too long", uri: "/put?key=" + strings.Repeat("k", 513) + "&v=1", status: 500, body: "kv_invalid …", ops: 1},
		{name: "list limit too large", uri: "/list?key=&limit=1001", status: 500, body: "kv_invalid …", ops: 1},
		{name: "value too large", uri: "/put?key=v&v=" + strings.Repeat("v", 4097), status: 500,
			body: "kv_value_too_large pier: kv_value_too_large: the value exceeds the plan's kvValueKB limit", ops: 1},
		{name: "op limit", uri: "/get?key=n", maxOps: -1, status: 500,
			body: "kv_op_limit pier: kv_op_limit: the plan's kvOps limit (KV operations per request) is used up"},
		{name: "update runs out of ops", uri: "/inc?key=n", maxOps: 3, racer: func(key string) { h.store[key] = []byte("0") }, status: 500,
			body: "kv_op_limit …", ops: 3},
		{name: "unbound", uri: "/get?key=n", binding: "OTHER", status: 500,
			body: "kv_unbound pier: kv_unbound: no KV namespace is bound under that name in this deployment"},
		{name: "secret", uri: "/var?key=API_KEY", status: 200, body: "sekrit"},
		{name: "secret unset", uri: "/var?key=NOPE", status: 200, body: "unset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.uri, h.binding, h.racer = tc.uri, tc.binding, tc.racer
			h.maxOps, h.maxValue = 20, 4096
			if tc.maxOps != 0 {
				h.maxOps = max(tc.maxOps, 0)
			}
			h.ops, h.last, h.casCalls, h.status, h.body = 0, "", 0, 0, ""
			res, err := mod.ExportedFunction("handle_request").Call(ctx)
			if err != nil {
				t.Fatalf("handle_request: %v", err)
			}
			if res[0] != 0 {
				t.Fatalf("handle_request = %d, want 0 (answered)", res[0])
			}
			want, prefix := strings.CutSuffix(tc.body, "…")
			if h.status != tc.status || (prefix && !strings.HasPrefix(h.body, want)) || (!prefix && h.body != want) {
				t.Errorf("%d %q, want %d %q", h.status, h.body, tc.status, tc.body)
			}
			if h.ops != tc.ops {
				t.Errorf("%d KV ops, want %d", h.ops, tc.ops)
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}
	// Last: a panic traps the instance. The SDK's _initialize installed a
	// hook that logs the message first.
	t.Run("panic", func(t *testing.T) {
		h.uri = "/panic?key=boom"
		if _, err := mod.ExportedFunction("handle_request").Call(ctx); err == nil {
			t.Fatal("handle_request returned, want a trap")
		}
		if log := strings.Join(h.logs, "\n"); !strings.Contains(log, "worker panicked: panicked at 'on purpose: boom'") {
			t.Errorf("logs %q, want the panic's message", log)
		}
	})
}
