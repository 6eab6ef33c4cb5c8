package hosting

//go:generate sh -c "cd testdata/workers && for f in *.wat; do wat2wasm $f -o ${f%.wat}.wasm; done"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/hosting/egress"
	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

// newRuntime returns a worker runtime with one instance per worker, so
// the counter guest's state tells instances apart.
func newRuntime(t testing.TB) *worker.Runtime {
	t.Helper()
	rt, err := worker.New(context.Background(), worker.Config{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// newWorkerEnv is newEnv with workers on; the edge's workers are closed
// before the runtime.
func newWorkerEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	if cfg.Workers == nil {
		cfg.Workers = newRuntime(t)
	}
	e := newEnv(t, cfg)
	t.Cleanup(func() {
		if err := e.edge.Close(context.Background()); err != nil {
			t.Errorf("closing the edge's workers: %v", err)
		}
	})
	return e
}

// wasmFixture reads testdata/workers/<name>.wasm (built by go generate).
func wasmFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "workers", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// workerSite creates site name (if new) with an active deployment depID of
// files and the worker fixture wasmName.
func (e *env) workerSite(name, depID, wasmName string, files map[string]testFile, cfg tenants.DeploymentConfig) {
	e.t.Helper()
	wasm := wasmFixture(e.t, wasmName)
	hash := assets.Hash(testSalt, wasm)
	e.blobs.mu.Lock()
	e.blobs.data[assets.Key(testTenant, hash, "")] = wasm
	e.blobs.mu.Unlock()
	e.reg.mu.Lock()
	_, exists := e.reg.sites[name]
	e.reg.mu.Unlock()
	if !exists {
		e.reg.addSite(testTenant, "s-"+name, name)
	}
	e.reg.deploy(name, tenants.Deployment{ID: depID, Manifest: e.blobs.manifest(testTenant, files), Worker: hash, Config: cfg}, true)
}

func (e *env) doBody(method, target, host, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = host
	w := httptest.NewRecorder()
	e.edge.ServeHTTP(w, r)
	return w
}

var workerFiles = map[string]testFile{
	"/index.html":           {body: "<h1>home</h1>"},
	"/api/static/logo.txt":  {body: "static logo"},
	"/rewritten.html":       {body: "<p>rewritten page</p>"},
	"/style.css":            {body: "body{color:red}"},
	"/docs/index.html":      {body: "<h1>docs</h1>"},
	"/api/users/index.html": {body: "shadowed by run_worker_first"},
}

func TestWorkerDispatch(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("app", "d1", "counter", workerFiles, tenants.DeploymentConfig{
		RunWorkerFirst: []string{"/api/*", "!/api/static/*"},
		Redirects:      "/old /docs/ 301\n/gone /nowhere 200\n",
	})
	e.site("plain", "p1", workerFiles, tenants.DeploymentConfig{})
	tests := []struct {
		name, method, host, path string
		status                   int
		body                     string // prefix
	}{
		{"run_worker_first match", "GET", "app.pier.test", "/api/users/", 201, "GET /api/users/ "},
		{"run_worker_first excluded", "GET", "app.pier.test", "/api/static/logo.txt", 200, "static logo"},
		{"asset before worker", "GET", "app.pier.test", "/", 200, "<h1>home</h1>"},
		{"html_handling before worker", "GET", "app.pier.test", "/docs", 307, ""},
		{"redirect before worker", "GET", "app.pier.test", "/old", 301, ""},
		{"no asset falls through to worker", "GET", "app.pier.test", "/missing?x=1", 201, "GET /missing?x=1 "},
		{"rewrite to a missing asset falls through", "GET", "app.pier.test", "/gone", 201, "GET /gone "},
		{"POST reaches the worker even on an asset path", "POST", "app.pier.test", "/index.html", 201, "POST /index.html "},
		{"DELETE reaches the worker", "DELETE", "app.pier.test", "/api/x", 201, "DELETE /api/x "},
		{"HEAD of an asset stays static", "HEAD", "app.pier.test", "/style.css", 200, ""},
		{"static site still refuses POST", "POST", "plain.pier.test", "/index.html", 405, "method not allowed"},
		{"static site 404", "GET", "plain.pier.test", "/missing", 404, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.doBody(tc.method, tc.path, tc.host, "payload")
			if w.Code != tc.status || !strings.HasPrefix(w.Body.String(), tc.body) {
				t.Fatalf("%s %s: %d %q, want %d %q…", tc.method, tc.path, w.Code, w.Body.String(), tc.status, tc.body)
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" && tc.status != 301 && tc.status != 307 {
				t.Fatalf("X-Content-Type-Options = %q, want nosniff", got)
			}
		})
	}
}

func TestWorkerResponseHeaders(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("hello", "d1", "hello", nil, tenants.DeploymentConfig{})
	tests := []struct {
		name, host string
		robots     string
	}{
		{"production", "hello.pier.test", ""},
		{"preview", "d1--hello.pier.test", "noindex"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.get("/", tc.host)
			if w.Code != 200 || w.Body.String() != "hello world\n" {
				t.Fatalf("got %d %q", w.Code, w.Body.String())
			}
			h := w.Header()
			if h.Get("Content-Type") != "text/plain" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Robots-Tag") != tc.robots {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

// A worker that sets response headers and then fails answers the
// platform's error, with none of its headers: they went into the
// response's header map as it set them, and the edge clears it.
func TestWorkerFailureDropsItsHeaders(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("trap", "d1", "hdrtrap", nil, tenants.DeploymentConfig{})
	for range 2 { // the second on the pooled instance's next request
		w := e.get("/", "trap.pier.test")
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "worker_exception") {
			t.Fatalf("got %d %q, want 500 worker_exception", w.Code, w.Body.String())
		}
		if h := w.Header(); h.Get("Set-Cookie") != "" || h.Get("X-Partial") != "" {
			t.Fatalf("the failed worker's headers reached the client: %v", h)
		}
	}
}

func TestWorkerNext(t *testing.T) {
	tests := []struct {
		name     string
		runFirst []string
		path     string
	}{
		{"fall-through", nil, "/missing"},
		{"run_worker_first all paths", []string{"/*"}, "/index.html"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newWorkerEnv(t, Config{})
			e.workerSite("app", "d1", "next", workerFiles, tenants.DeploymentConfig{
				RunWorkerFirst: tc.runFirst,
				Headers:        "/rewritten\n  X-Static: yes\n",
			})
			w := e.get(tc.path, "app.pier.test")
			if w.Code != 200 || w.Body.String() != "<p>rewritten page</p>" {
				t.Fatalf("GET %s: %d %q, want the static page the worker rewrote to", tc.path, w.Code, w.Body.String())
			}
			if w.Header().Get("X-Static") != "yes" || w.Header().Get("Etag") == "" {
				t.Fatalf("static headers missing: %v", w.Header())
			}
			if u := e.edge.Usage("app"); u.Invocations != 1 || u.Requests["2xx"] != 1 {
				t.Fatalf("usage %+v: want one invocation and one 2xx (next counted once)", u)
			}
		})
	}
}

func TestWorkersDisabled(t *testing.T) {
	e := newEnv(t, Config{}) // no Workers
	e.workerSite("app", "d1", "counter", workerFiles, tenants.DeploymentConfig{RunWorkerFirst: []string{"/api/*"}})
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"run_worker_first", "GET", "/api/x", 503},
		{"fall-through", "GET", "/missing", 503},
		{"POST", "POST", "/", 503},
		{"asset still served", "GET", "/style.css", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(tc.method, tc.path, "app.pier.test", "Accept", "application/json")
			if w.Code != tc.status {
				t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
			}
			if tc.status != 503 {
				return
			}
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "workers_disabled" {
				t.Fatalf("body %q (%v), want code workers_disabled", w.Body.String(), err)
			}
		})
	}
}

func TestWorkerUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
	}{
		{"module blob missing", func(e *env) {
			e.reg.addSite(testTenant, "s-app", "app")
			e.reg.deploy("app", tenants.Deployment{ID: "d1", Worker: "0123456789abcdef", Manifest: e.blobs.manifest(testTenant, workerFiles)}, true)
		}},
		{"invalid module", func(e *env) {
			bad := []byte("\x00asm\x01\x00\x00\x00garbage")
			hash := assets.Hash(testSalt, bad)
			e.blobs.data[assets.Key(testTenant, hash, "")] = bad
			e.reg.addSite(testTenant, "s-app", "app")
			e.reg.deploy("app", tenants.Deployment{ID: "d1", Worker: hash, Manifest: e.blobs.manifest(testTenant, workerFiles)}, true)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newWorkerEnv(t, Config{})
			tc.setup(e)
			for range 2 { // the second request sees the remembered failure
				w := e.get("/missing", "app.pier.test")
				if w.Code != 503 || !strings.Contains(w.Body.String(), "worker_unavailable") {
					t.Fatalf("got %d %q, want 503 worker_unavailable", w.Code, w.Body.String())
				}
			}
			if w := e.get("/style.css", "app.pier.test"); w.Code != 200 {
				t.Fatalf("asset: %d", w.Code)
			}
		})
	}
}

// counterN returns the instance request count the counter guest answered.
func counterN(t *testing.T, e *env, host string) string {
	t.Helper()
	w := e.get("/missing", host)
	if w.Code != 201 {
		t.Fatalf("GET %s/missing: %d %q", host, w.Code, w.Body.String())
	}
	b := w.Body.String()
	return b[len(b)-1:]
}

func TestWorkerInstancesPerSite(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	// Identical deployments: the static part is interned, the workers are not.
	e.workerSite("a", "da", "counter", workerFiles, tenants.DeploymentConfig{})
	e.workerSite("b", "db", "counter", workerFiles, tenants.DeploymentConfig{})
	steps := []struct{ host, want string }{
		{"a.pier.test", "1"},
		{"a.pier.test", "2"},
		{"b.pier.test", "1"},
		{"a.pier.test", "3"},
		{"b.pier.test", "2"},
	}
	for i, s := range steps {
		t.Run(fmt.Sprintf("%d %s", i, s.host), func(t *testing.T) {
			if got := counterN(t, e, s.host); got != s.want {
				t.Fatalf("instance count %s, want %s", got, s.want)
			}
		})
	}
	if n := e.edge.deps.len(); n != 1 {
		t.Fatalf("%d loaded deployments, want the two sites' one interned", n)
	}
	e.edge.workers.mu.Lock()
	n := len(e.edge.workers.m)
	e.edge.workers.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d workers, want one per site", n)
	}
}

// siteWorkerOf returns the current worker holder of site, or nil.
func siteWorkerOf(e *env, site string) *siteWorker {
	e.edge.workers.mu.Lock()
	defer e.edge.workers.mu.Unlock()
	for k, sw := range e.edge.workers.m {
		if k.site == site {
			return sw
		}
	}
	return nil
}

// waitRevalidated waits for the background revalidation of host's route
// that a request has started.
func waitRevalidated(e *env, host string) {
	ent := e.edge.routes.get(host)
	ent.mu.Lock()
	call := ent.call
	ent.mu.Unlock()
	if call != nil {
		<-call.done
	}
}

// waitClosed waits until the edge has closed every retired worker.
func waitClosed(e *env) { e.edge.closing.Wait() }

func TestWorkerRetired(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		retire func(e *env)
	}{
		{"Invalidate", Config{}, func(e *env) { e.edge.Invalidate("A") }},
		{"redeploy", Config{}, func(e *env) {
			e.workerSite("a", "d2", "counter", map[string]testFile{"/x.txt": {body: "x"}}, tenants.DeploymentConfig{})
			e.edge.Invalidate("a")
		}},
		{"activated elsewhere, seen on revalidation", Config{}, func(e *env) {
			e.workerSite("a", "d2", "counter", map[string]testFile{"/x.txt": {body: "x"}}, tenants.DeploymentConfig{})
			e.clock.Advance(DefaultRouteTTL + time.Second)
			// Stale: starts a background revalidation. The request itself is
			// served by d1 (a static asset: no worker involved).
			e.get("/style.css", "a.pier.test")
			waitRevalidated(e, "a.pier.test")
			if sw := siteWorkerOf(e, "a"); sw != nil {
				e.t.Fatalf("the replaced deployment's worker is still in the table")
			}
		}},
		{"evicted", Config{MaxDeployments: 1}, func(e *env) {
			e.workerSite("other", "o1", "counter", map[string]testFile{"/o.txt": {body: "o"}}, tenants.DeploymentConfig{})
			if got := counterN(e.t.(*testing.T), e, "other.pier.test"); got != "1" {
				e.t.Fatalf("other site: %s", got)
			}
		}},
		{"limits changed", Config{}, func(e *env) {
			e.reg.mu.Lock()
			tn := e.reg.tenants[testTenant]
			tn.Plan = tenants.PlanPro
			e.reg.tenants[testTenant] = tn
			e.reg.mu.Unlock()
			e.clock.Advance(DefaultRouteTTL + time.Second)
			e.get("/style.css", "a.pier.test") // starts a background revalidation
			waitRevalidated(e, "a.pier.test")
			if v := e.edge.routes.get("a.pier.test").val.Load(); v.plan != tenants.PlanPro {
				e.t.Fatalf("route not revalidated: plan %q", v.plan)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newWorkerEnv(t, tc.cfg)
			e.workerSite("a", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
			counterN(t, e, "a.pier.test")
			if got := counterN(t, e, "a.pier.test"); got != "2" {
				t.Fatalf("second request: %s", got)
			}
			old := siteWorkerOf(e, "a")
			tc.retire(e)
			if got := counterN(t, e, "a.pier.test"); got != "1" {
				t.Fatalf("after %s: instance count %s, want a fresh worker", tc.name, got)
			}
			waitClosed(e)
			old.mu.Lock()
			retired, w := old.retired, old.w
			old.mu.Unlock()
			if !retired || w != nil {
				t.Fatalf("old worker retired=%v, still held=%v", retired, w != nil)
			}
		})
	}
}

// A route value remembers the site worker its requests used, so that the
// next ones skip the node's worker table; a retired one is not used again.
func TestWorkerRememberedByRoute(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("a", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
	counterN(t, e, "a.pier.test")
	v := e.edge.routes.get("a.pier.test").val.Load()
	first := v.worker.p.Load()
	if first == nil || first != siteWorkerOf(e, "a") {
		t.Fatalf("the route remembers %p, the table holds %p", first, siteWorkerOf(e, "a"))
	}
	if got := counterN(t, e, "a.pier.test"); got != "2" {
		t.Fatalf("second request through the remembered worker: instance count %s, want 2", got)
	}
	e.edge.retireWorkers(func(workerKey) bool { return true })
	if got := counterN(t, e, "a.pier.test"); got != "1" {
		t.Fatalf("after retiring: instance count %s, want a fresh worker", got)
	}
	if v2 := e.edge.routes.get("a.pier.test").val.Load(); v2 != v {
		t.Fatal("the route value was replaced: the test no longer tests the remembered worker")
	}
	if now := v.worker.p.Load(); now == first || now != siteWorkerOf(e, "a") {
		t.Fatalf("after retiring, the route remembers %p (retired: %p), the table holds %p", now, first, siteWorkerOf(e, "a"))
	}
}

func TestWorkerRetiredWhileServing(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("a", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
	d := mustDep(t, e, "a.pier.test")
	sw, w, err := e.edge.acquireWorker(context.Background(), "a", d, e.edge.routes.get("a.pier.test").val.Load())
	if err != nil || w == nil {
		t.Fatalf("acquire: %v", err)
	}
	e.edge.Invalidate("a")
	sw.mu.Lock()
	held := sw.w != nil
	sw.mu.Unlock()
	if !held {
		t.Fatal("worker closed while a request still uses it")
	}
	e.edge.releaseWorker(sw)
	waitClosed(e)
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.w != nil {
		t.Fatal("worker not closed after its last request")
	}
}

// mustDep loads and returns the deployment host routes to.
func mustDep(t *testing.T, e *env, host string) *deployment {
	t.Helper()
	if w := e.get("/style.css", host); w.Code != 200 {
		t.Fatalf("warming %s: %d", host, w.Code)
	}
	return e.edge.routes.get(host).val.Load().slot.p.Load()
}

// publicResolver maps test names to public addresses; publicDialer sends
// every checked address to one test server.
type publicResolver map[string]string

func (r publicResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestWorkerBindings(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hi from upstream %s%s", r.Host, r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	hub := logstream.New(64)
	e := newWorkerEnv(t, Config{
		Logs: hub,
		Egress: &egress.Policy{
			Resolver: publicResolver{"api.example.test": "93.184.216.34"},
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr != "93.184.216.34:80" {
					return nil, fmt.Errorf("unexpected dial to %s", addr)
				}
				var d net.Dialer
				return d.DialContext(ctx, "tcp", upstream.Listener.Addr().String())
			},
		},
	})
	e.workerSite("app", "d1", "bindings", workerFiles, tenants.DeploymentConfig{
		Headers: "/style.css\n  X-Styled: yes\n",
	})
	events := hub.Subscribe("app")
	defer events.Close()
	tests := []struct {
		name, path string
		want       []string
		outcome    string
		logLine    string
		subreqs    int
	}{
		{"asset binding", "/asset", []string{"HTTP/1.1 200", "X-Styled: yes", "Content-Type: text/css", "body{color:red}"}, "ok", "", 0},
		{"fetch to loopback denied", "/local", []string{"error 2"}, "ok", "", 1},
		{"fetch to cloud metadata denied", "/meta", []string{"error 2"}, "ok", "", 1},
		{"fetch to a public host", "/public", []string{"HTTP/1.1 200", "hi from upstream api.example.test/hi"}, "ok", "", 1},
		{"log line", "/log", []string{"logged"}, "ok", "hello from the guest", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.get(tc.path, "app.pier.test")
			if w.Code != 200 {
				t.Fatalf("%d %q", w.Code, w.Body.String())
			}
			for _, s := range tc.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Fatalf("body %q lacks %q", w.Body.String(), s)
				}
			}
			var got []logstream.Event
			for {
				ev := nextEvent(t, events)
				got = append(got, ev)
				if ev.Kind == logstream.KindInvocation {
					break
				}
			}
			inv := got[len(got)-1]
			if inv.Site != "app" || inv.Path != tc.path || inv.Method != "GET" || inv.Status != 200 || inv.Outcome != tc.outcome || inv.SubRequests != tc.subreqs {
				t.Fatalf("invocation event %+v", inv)
			}
			if tc.logLine != "" {
				if len(got) != 2 || got[0].Kind != logstream.KindLog || got[0].Message != tc.logLine || got[0].Site != "app" {
					t.Fatalf("events %+v, want the log line then the invocation", got)
				}
			} else if len(got) != 1 {
				t.Fatalf("events %+v, want only the invocation", got)
			}
		})
	}
	u := e.edge.Usage("app")
	if u.Invocations != int64(len(tests)) || u.SubRequests != 3 || u.ByOutcome[worker.OutcomeOK] != int64(len(tests)) {
		t.Fatalf("usage %+v", u)
	}
}

func TestHostAsset(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("app", "d1", "counter", workerFiles, tenants.DeploymentConfig{NotFoundHandling: tenants.NotFound404})
	d := mustDep(t, e, "app.pier.test")
	h := &requestHost{e: e.edge, d: d, site: "app"}
	tests := []struct {
		name, path string
		status     int
		body       string
		notFound   bool
	}{
		{"file", "/style.css", 200, "body{color:red}", false},
		{"html_handling", "/docs/", 200, "<h1>docs</h1>", false},
		{"html_handling redirect", "/docs", 307, "", false},
		{"relative path", "style.css", 200, "body{color:red}", false},
		{"missing", "/nope.txt", 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.Asset(context.Background(), tc.path)
			if tc.notFound {
				if !errors.Is(err, worker.ErrAssetNotFound) {
					t.Fatalf("err %v, want ErrAssetNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || string(b) != tc.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
			}
			if resp.ContentLength != int64(len(b)) {
				t.Fatalf("ContentLength %d for %d bytes", resp.ContentLength, len(b))
			}
		})
	}
	if u := e.edge.Usage("app"); u.Requests["2xx"] != 1 {
		t.Fatalf("asset binding counted as site requests: %+v", u.Requests)
	}
}

func TestWorkerCountersAndMetrics(t *testing.T) {
	hub := logstream.New(64)
	e := newWorkerEnv(t, Config{Logs: hub})
	e.workerSite("app", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
	e.workerSite("spin", "s1", "spin", workerFiles, tenants.DeploymentConfig{})
	events := hub.Subscribe("spin")
	defer events.Close()

	e.get("/missing", "app.pier.test")              // worker 201
	e.doBody("POST", "/x", "app.pier.test", "body") // worker 201
	e.get("/style.css", "app.pier.test")            // static 200
	e.get("/nope.txt", "plain.pier.test")           // not a site: not counted
	w := e.get("/missing", "spin.pier.test")        // runaway guest
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "worker_cpu_exceeded") {
		t.Fatalf("spin: %d %q", w.Code, w.Body.String())
	}
	ev := nextEvent(t, events) // the invocation event alone says what happened
	if ev.Kind != logstream.KindInvocation || ev.Outcome != worker.OutcomeExceededCPU || ev.Status != 503 || ev.CPUMs <= 0 || ev.Message == "" {
		t.Fatalf("spin event %+v", ev)
	}

	t.Run("Usage", func(t *testing.T) {
		app, spin := e.edge.Usage("app"), e.edge.Usage("spin")
		if app.Requests["2xx"] != 3 || app.Invocations != 2 || len(app.Violations) != 0 || app.BytesOut == 0 || app.CPU <= 0 {
			t.Fatalf("app %+v", app)
		}
		if spin.Requests["5xx"] != 1 || spin.Invocations != 1 || spin.Violations[worker.OutcomeExceededCPU] != 1 || spin.CPU <= 0 {
			t.Fatalf("spin %+v", spin)
		}
		if u := e.edge.Usage("nobody"); u.Invocations != 0 || u.Requests["2xx"] != 0 {
			t.Fatalf("unknown site %+v", u)
		}
	})
	t.Run("WriteMetrics", func(t *testing.T) {
		var b bytes.Buffer
		if err := e.edge.WriteMetrics(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{
			"# TYPE pier_site_requests_total counter\n",
			`pier_site_requests_total{site="app",class="2xx"} 3` + "\n",
			`pier_site_requests_total{site="spin",class="5xx"} 1` + "\n",
			`pier_worker_invocations_total{site="app",outcome="ok"} 2` + "\n",
			`pier_worker_invocations_total{site="spin",outcome="exceededCpu"} 1` + "\n",
			`pier_worker_subrequests_total{site="app"} 0` + "\n",
			`pier_worker_cpu_seconds_total{site="spin"} `,
		} {
			if !strings.Contains(out, want) {
				t.Fatalf("metrics lack %q:\n%s", want, out)
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(line, "# ") && !strings.HasPrefix(line, "pier_") {
				t.Fatalf("malformed line %q", line)
			}
		}
	})
}

func TestAppendLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a"b`, `a\"b`},
		{`a\b`, `a\\b`},
		{"a\nb", `a\nb`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := string(appendLabelValue(nil, tc.in)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRunFirst(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		path     string
		want     bool
	}{
		{"none", nil, "/api/x", false},
		{"all", []string{"/*"}, "/", true},
		{"prefix", []string{"/api/*"}, "/api/v1/users", true},
		{"prefix root", []string{"/api/*"}, "/api/", true},
		{"prefix without slash", []string{"/api/*"}, "/api", false},
		{"other path", []string{"/api/*"}, "/app/x", false},
		{"exact", []string{"/login"}, "/login", true},
		{"exact only", []string{"/login"}, "/login/x", false},
		{"negation wins", []string{"/api/*", "!/api/static/*"}, "/api/static/a.png", false},
		{"negation elsewhere", []string{"/api/*", "!/api/static/*"}, "/api/dynamic", true},
		{"negation only", []string{"!/x/*"}, "/y", false},
		{"inner star", []string{"/*/edit"}, "/posts/1/edit", true},
		{"inner star miss", []string{"/*/edit"}, "/posts/1/view", false},
		{"suffix", []string{"*.json"}, "/data/a.json", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := newRunFirst(tc.patterns).match(tc.path); got != tc.want {
				t.Fatalf("%v match %q = %v, want %v", tc.patterns, tc.path, got, tc.want)
			}
		})
	}
}

func TestWorkerConcurrentFirstRequests(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("app", "d1", "hello", workerFiles, tenants.DeploymentConfig{})
	var wg sync.WaitGroup
	codes := make([]int, 16)
	for i := range codes {
		wg.Go(func() { codes[i] = e.get("/missing", "app.pier.test").Code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if n := e.blobs.calls.Load(); n != 1 {
		t.Fatalf("%d blob reads, want the module read once for all concurrent first requests", n)
	}
}

// TestHostileNeighbour: while one site's guest spins until its CPU limit
// stops it, a neighbouring site's static and worker requests are answered.
func TestHostileNeighbour(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("spin", "s1", "spin", workerFiles, tenants.DeploymentConfig{})
	e.workerSite("app", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
	e.get("/missing", "app.pier.test") // load app's worker first
	var wg sync.WaitGroup
	spinCodes := make([]int, 4)
	for i := range spinCodes {
		wg.Go(func() { spinCodes[i] = e.get("/missing", "spin.pier.test").Code })
	}
	tests := []struct {
		name, path string
		status     int
	}{
		{"static", "/style.css", 200},
		{"worker", "/missing", 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 {
				if w := e.get(tc.path, "app.pier.test"); w.Code != tc.status {
					t.Fatalf("%s: %d %q", tc.path, w.Code, w.Body.String())
				}
			}
		})
	}
	wg.Wait()
	for i, c := range spinCodes {
		if c != http.StatusServiceUnavailable {
			t.Fatalf("spin request %d: %d, want 503", i, c)
		}
	}
	if v := e.edge.Usage("spin").Violations[worker.OutcomeExceededCPU]; v != int64(len(spinCodes)) {
		t.Fatalf("%d exceededCpu, want %d", v, len(spinCodes))
	}
}

// TestWorkerLimitsNoFlapping: after the tenant's limits change, a host of
// the site whose route is still stale uses the worker with the new limits
// instead of replacing it with one with the old limits.
func TestWorkerLimitsNoFlapping(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("a", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
	counterN(t, e, "a.pier.test")
	counterN(t, e, "d1--a.pier.test") // the preview route, same worker
	e.reg.mu.Lock()
	tn := e.reg.tenants[testTenant]
	tn.Plan = tenants.PlanPro
	e.reg.tenants[testTenant] = tn
	e.reg.mu.Unlock()
	e.clock.Advance(DefaultRouteTTL + time.Second)
	e.get("/style.css", "a.pier.test")
	waitRevalidated(e, "a.pier.test")
	steps := []struct{ name, host, want string }{
		{"fresh route replaces the worker", "a.pier.test", "1"},
		{"stale route keeps it", "d1--a.pier.test", "2"},
		{"fresh route again", "a.pier.test", "3"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if got := counterN(t, e, s.host); got != s.want {
				t.Fatalf("instance count %s, want %s", got, s.want)
			}
		})
	}
}

// nextEvent waits for the next event of s; the test's deadline bounds it.
func nextEvent(t *testing.T, s *logstream.Subscription) logstream.Event {
	t.Helper()
	ev, _, err := s.Wait(t.Context())
	if err != nil {
		t.Fatalf("waiting for a log event: %v", err)
	}
	return ev
}

// On a site with a worker, the worker's answers are invocation events and
// the assets answered before it are request events: one event a request.
func TestWorkerSiteRequestEvents(t *testing.T) {
	hub := logstream.New(64)
	e := newWorkerEnv(t, Config{Logs: hub})
	e.workerSite("app", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
	events := hub.Subscribe("app")
	defer events.Close()
	for _, tc := range []struct{ path, kind, outcome string }{
		{"/style.css", logstream.KindRequest, logstream.OutcomeStatic},
		{"/missing", logstream.KindInvocation, worker.OutcomeOK},
	} {
		e.get(tc.path, "app.pier.test")
		ev := nextEvent(t, events)
		if ev.Kind != tc.kind || ev.Outcome != tc.outcome || ev.Path != tc.path || ev.BytesOut == 0 {
			t.Errorf("GET %s: event %+v, want a %s event with outcome %s", tc.path, ev, tc.kind, tc.outcome)
		}
		if ev, _, ok := events.Next(); ok {
			t.Errorf("GET %s: a second event %+v", tc.path, ev)
		}
	}
}
