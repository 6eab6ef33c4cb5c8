package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pierhq/pier/internal/testenv"
)

// exampleWorker returns the directory of a built example worker, skipping
// (or failing under make test) when `make examples` has not run.
func exampleWorker(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "examples", name)
	if _, err := os.Stat(filepath.Join(dir, "build", "worker.wasm")); err != nil {
		if os.Getenv("PIER_TEST_REQUIRE_SERVERS") == "1" {
			t.Fatalf("%s not built: run make examples", name)
		}
		t.Skipf("%s not built (make examples)", name)
	}
	return dir
}

// TestExampleWorkers deploys the five example workers through the CLI and
// asks each a question over the edge.
func TestExampleWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "acme")
	// worker-rust's pier.toml binds the tenant's KV namespace rust-demo.
	s.pier("kv", "create", "rust-demo", "--tenant", "acme")
	s.pier("kv", "put", "rust-demo", "greeting", "hello from KV", "--tenant", "acme")
	cases := []struct {
		example, path, want string
	}{
		{"worker-go", "/api/hello?name=pier", `{"hello":"pier"}`},
		{"worker-c", "/c/hello?name=pier", "hello, pier"},
		{"worker-wat", "/wat", ""},
		{"worker-wagi", "/wagi/hello", "hello"},
		{"worker-rust", "/rust/hello", "hello from Rust\n"},
	}
	for _, tc := range cases {
		t.Run(tc.example, func(t *testing.T) {
			dir := exampleWorker(t, tc.example)
			s.pier("sites", "create", tc.example, "--tenant", "acme")
			s.deploy(dir, tc.example)
			r := s.get(tc.example+".localhost", tc.path)
			if r.Status != 200 || !strings.Contains(r.Body, tc.want) {
				t.Fatalf("GET %s = %d %q, want 200 containing %q", tc.path, r.Status, r.Body, tc.want)
			}
			// Static assets still answer beside the worker.
			if r := s.get(tc.example+".localhost", "/"); r.Status != 200 {
				t.Errorf("static index beside the worker = %d", r.Status)
			}
		})
	}
	t.Run("worker-rust answers", func(t *testing.T) {
		exampleWorker(t, "worker-rust")
		host := "worker-rust.localhost"
		cases := []struct {
			name, path  string
			status      int
			body, ctype string // body: a substring; ctype: the exact Content-Type, when set
			notInBody   string
		}{
			{name: "hello", path: "/rust/hello", status: 200, body: "hello from Rust\n", ctype: "text/plain; charset=utf-8"},
			{name: "kv", path: "/rust/kv?key=greeting", status: 200, body: "hello from KV", ctype: "application/octet-stream"},
			{name: "kv absent", path: "/rust/kv?key=nope", status: 404, body: `"error":"not_found"`, ctype: "application/json"},
			{name: "var unset", path: "/rust/var?name=NOPE", status: 404, body: `"error":"not_found"`, ctype: "application/json"},
			{name: "egress refused", path: "/rust/fetch?url=http://127.0.0.1:1/", status: 403, body: `"error":"egress_denied"`},
			{name: "asset", path: "/rust/asset?path=/", status: 200, body: `"status":200`},
			{name: "unknown path falls through to the assets", path: "/rust/nope", status: 404, notInBody: "hello from Rust"},
			{name: "index", path: "/", status: 200, body: "A Pier worker in Rust"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := s.get(host, tc.path)
				if r.Status != tc.status || !strings.Contains(r.Body, tc.body) {
					t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, r.Status, r.Body, tc.status, tc.body)
				}
				if tc.notInBody != "" && strings.Contains(r.Body, tc.notInBody) {
					t.Errorf("GET %s = %q, want no %q", tc.path, r.Body, tc.notInBody)
				}
				if ct := r.Header.Get("Content-Type"); tc.ctype != "" && ct != tc.ctype {
					t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.ctype)
				}
			})
		}
	})
	t.Run("egress", func(t *testing.T) {
		exampleWorker(t, "worker-go")
		for _, target := range []string{"http://127.0.0.1:1/", "http://169.254.169.254/latest/meta-data/", "http://localhost:1/", s.API + "/healthz"} {
			r := s.get("worker-go.localhost", "/api/fetch?url="+target)
			if !strings.Contains(r.Body, "egress_denied") {
				t.Errorf("fetch %s from a worker: %d %q, want egress_denied", target, r.Status, r.Body)
			}
		}
	})
}

// TestHostileWorker: runaway guests are stopped with the right status and
// a neighbouring site keeps answering meanwhile; the log stream shows it.
// cpuKill is the log stream's message for a worker stopped at its CPU limit.
var cpuKill = regexp.MustCompile(`"message":"worker exceeded its CPU limit of [0-9.]+ ms"`)

func TestHostileWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		if os.Getenv("PIER_TEST_REQUIRE_SERVERS") == "1" {
			t.Fatal("wat2wasm not found: run make examples (installs wabt)")
		}
		t.Skip("wat2wasm not found")
	}
	site := writeSite(t, map[string]string{"index.html": "static"})
	wasm := filepath.Join(t.TempDir(), "hostile.wasm")
	if out, err := exec.Command(wat2wasm, filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "hostile.wat"), "-o", wasm).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, out)
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "evil")
	// The neighbour is hammered by one client: its plan's request rate
	// (enterprise, 10,000/s) stays above what that client sends.
	s.pier("tenants", "create", "good", "--plan", "enterprise")
	s.pier("sites", "create", "evil", "--tenant", "evil")
	s.pier("sites", "create", "good", "--tenant", "good")
	s.pier("deploy", site, "--site", "evil", "--worker", wasm)
	s.pier("deploy", writeSite(t, map[string]string{"index.html": "neighbour"}), "--site", "good")

	// Follow evil's log stream.
	logs := s.followLogs("evil")
	// The stream is subscribed once a request's invocation comes through;
	// what follows is judged by the lines after these.
	testenv.WaitFor(t, testenv.Patience, func() error {
		s.get("evil.localhost", "/ok")
		if !strings.Contains(strings.Join(logs.Lines(), "\n"), `"outcome":"ok"`) {
			return errors.New("pier logs shows no invocation of /ok")
		}
		return nil
	})
	subscribed := len(logs.Lines())

	// The neighbour is hammered throughout.
	stop := make(chan struct{})
	var neighbourBad atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if r := s.get("good.localhost", "/"); r.Status != 200 || r.Body != "neighbour" {
				neighbourBad.Add(1)
			}
		}
	}()

	cases := []struct {
		path   string
		status []int // any of
		want   string
	}{
		{"/loop", []int{503}, "worker_cpu_exceeded"},
		{"/fib", []int{503}, "worker_cpu_exceeded"},
		// Unbounded recursion ends in a stack overflow or, first, the CPU limit.
		{"/recurse", []int{500, 503}, "worker_"},
		{"/trap", []int{500}, "worker_exception"},
		{"/grow", []int{200}, "grew"},
		{"/ok", []int{200}, "ok"},
	}
	for _, tc := range cases {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			// Twice: a stopped instance must not poison the next request.
			for i := 0; i < 2; i++ {
				r := s.get("evil.localhost", tc.path)
				if !slices.Contains(tc.status, r.Status) || !strings.Contains(r.Body, tc.want) {
					t.Errorf("GET %s = %d %q, want one of %v containing %q", tc.path, r.Status, r.Body, tc.status, tc.want)
				}
			}
		})
	}
	close(stop)
	wg.Wait()
	if n := neighbourBad.Load(); n > 0 {
		t.Errorf("the neighbouring site failed %d requests while the hostile worker ran", n)
	}

	testenv.WaitFor(t, testenv.Patience, func() error {
		joined := strings.Join(logs.Lines()[subscribed:], "\n")
		// /grow answers, but its refused memory.grow is a violation too.
		if !strings.Contains(joined, "exceededCpu") || !strings.Contains(joined, `"outcome":"ok"`) ||
			!strings.Contains(joined, `"outcome":"exceededMemory"`) {
			return fmt.Errorf("log stream lacks the invocations; got:\n%s", joined)
		}
		return nil
	})
	// A CPU kill is said once, in words: no trap, no stack trace.
	joined := strings.Join(logs.Lines(), "\n")
	if !cpuKill.MatchString(joined) || strings.Contains(joined, "stack trace") || strings.Contains(joined, "exceededCpu: wasm error") {
		t.Errorf("log stream does not say the CPU limit was exceeded in words; got:\n%s", joined)
	}
	metrics := s.getURL(s.API + "/metrics")
	if !strings.Contains(metrics, `pier_worker_invocations_total{site="evil",outcome="exceededCpu"}`) {
		t.Errorf("metrics lack the exceededCpu counter:\n%s", metrics)
	}
}
