package hosting

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

// benchWriter is a reusable ResponseWriter: its header map is cleared,
// not reallocated, between requests, as a server's would be per response.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func newBenchWriter() *benchWriter { return &benchWriter{h: make(http.Header, 16)} }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *benchWriter) WriteString(s string) (int, error) {
	w.n += len(s)
	return len(s), nil
}
func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

var _ io.StringWriter = (*benchWriter)(nil)

// templateSite is a small site: a 2 KiB page with variants, a script and
// a few more files.
func templateSite() map[string]testFile {
	page := strings.Repeat("<p>Pier benchmark page.</p>\n", 2048/28+1)[:2048]
	files := map[string]testFile{
		"/index.html":     {body: page, br: page[:400], gz: page[:500]},
		"/small.txt":      {body: page},
		"/about.html":     {body: "<h1>about</h1>"},
		"/assets/app.js":  {body: strings.Repeat("x", 10_000), br: strings.Repeat("b", 2000), gz: strings.Repeat("g", 2500)},
		"/assets/app.css": {body: strings.Repeat("c", 5_000)},
	}
	for i := range 50 {
		files[fmt.Sprintf("/posts/%d.html", i)] = testFile{body: fmt.Sprintf("<p>post %d</p>", i)}
	}
	return files
}

func benchRequest(target, host string, hdr ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

// runBench serves r b.N times and checks the status of the last response.
func runBench(b *testing.B, e *env, r *http.Request, status int) {
	b.Helper()
	w := newBenchWriter()
	e.edge.ServeHTTP(w, r) // warm the route and deployment
	if w.status != status {
		b.Fatalf("status %d, want %d", w.status, status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		e.edge.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.status != status {
		b.Fatalf("status %d, want %d", w.status, status)
	}
}

func benchEnv(b *testing.B, cfg tenants.DeploymentConfig) *env {
	e := newEnv(b, Config{})
	e.site("site", "d1", templateSite(), cfg)
	return e
}

func BenchmarkEdgeSmallFile(b *testing.B) {
	e := benchEnv(b, tenants.DeploymentConfig{})
	runBench(b, e, benchRequest("/small.txt", "site.pier.test"), 200)
}

func BenchmarkEdgeBrotli(b *testing.B) {
	e := benchEnv(b, tenants.DeploymentConfig{})
	runBench(b, e, benchRequest("/", "site.pier.test", "Accept-Encoding", "gzip, deflate, br, zstd"), 200)
}

func BenchmarkEdge304(b *testing.B) {
	e := benchEnv(b, tenants.DeploymentConfig{})
	etag := `"` + hashOf(templateSite()["/index.html"].body) + `-br"`
	runBench(b, e, benchRequest("/", "site.pier.test", "Accept-Encoding", "gzip, deflate, br, zstd", "If-None-Match", etag), 304)
}

func BenchmarkEdgeNotFound(b *testing.B) {
	e := benchEnv(b, tenants.DeploymentConfig{})
	runBench(b, e, benchRequest("/no/such/page", "site.pier.test"), 404)
}

func BenchmarkEdgeUnknownHost(b *testing.B) {
	e := benchEnv(b, tenants.DeploymentConfig{})
	runBench(b, e, benchRequest("/", "nosuchsite.pier.test"), 404)
}

// BenchmarkEdgeWithRules serves a page of a deployment with _headers and
// _redirects (the precomputed header set makes them free for table hits).
func BenchmarkEdgeWithRules(b *testing.B) {
	e := benchEnv(b, tenants.DeploymentConfig{
		Headers:   "/*\n  X-Frame-Options: DENY\n/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n",
		Redirects: "/old /new 301\n/blog/* /posts/:splat 301\n",
	})
	runBench(b, e, benchRequest("/assets/app.js", "site.pier.test", "Accept-Encoding", "gzip, br"), 200)
}

// BenchmarkEdgeManySites draws the Host from 10,000 sites deployed from
// one template (one interned deployment).
func BenchmarkEdgeManySites(b *testing.B) {
	const sites = 10_000
	e := newEnv(b, Config{})
	files := templateSite()
	for i := range sites {
		name := fmt.Sprintf("site%d", i)
		e.reg.addSite(testTenant, "s-"+name, name)
		e.deploy(name, fmt.Sprintf("d%d", i), files, tenants.DeploymentConfig{}, true)
	}
	reqs := make([]*http.Request, sites)
	rnd := rand.New(rand.NewPCG(7, 8))
	for i, j := range rnd.Perm(sites) {
		reqs[i] = benchRequest("/", fmt.Sprintf("site%d.pier.test", j), "Accept-Encoding", "gzip, deflate, br")
	}
	w := newBenchWriter()
	for _, r := range reqs {
		w.reset()
		e.edge.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatalf("%s: status %d", r.Host, w.status)
		}
	}
	if n := e.edge.deps.len(); n != 1 {
		b.Fatalf("%d loaded deployments, want 1 (interned)", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		w.reset()
		e.edge.ServeHTTP(w, reqs[i])
		if i++; i == sites {
			i = 0
		}
	}
}

// BenchmarkEdgeParallel is BenchmarkEdgeSmallFile from GOMAXPROCS
// goroutines, to expose lock contention on the hot path.
func BenchmarkEdgeParallel(b *testing.B) {
	e := benchEnv(b, tenants.DeploymentConfig{})
	r := benchRequest("/small.txt", "site.pier.test")
	e.edge.ServeHTTP(newBenchWriter(), r)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := newBenchWriter()
		for pb.Next() {
			w.reset()
			e.edge.ServeHTTP(w, r)
		}
	})
}

// BenchmarkCompile1000Files loads a 1,000-file deployment (900 pages, 100
// other assets) with _headers: the cost of a cold site, once per
// distinct deployment. B/op approximates its memory.
func BenchmarkCompile1000Files(b *testing.B) {
	blobs := newFakeBlobs()
	files := map[string]testFile{"/index.html": {body: "home"}}
	for i := range 900 {
		files[fmt.Sprintf("/section%d/page%d.html", i%30, i)] = testFile{body: fmt.Sprint("page ", i), br: "b", gz: "g"}
	}
	for i := range 99 {
		files[fmt.Sprintf("/assets/file%d.js", i)] = testFile{body: fmt.Sprint("js ", i), br: "b"}
	}
	d := tenants.Deployment{ID: "d1", Manifest: blobs.manifest("t", files), Config: tenants.DeploymentConfig{
		Headers: "/*\n  X-Frame-Options: DENY\n/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n",
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compile("t", &d, digestDeployment("t", &d)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEdgeWorkerHello dispatches through the edge to a pooled
// hello-world worker (the fall-through path: no asset at /hello).
func BenchmarkEdgeWorkerHello(b *testing.B) {
	e := newWorkerEnv(b, Config{})
	e.workerSite("hello", "d1", "hello", templateSite(), tenants.DeploymentConfig{})
	r := benchRequest("/hello", "hello.pier.test")
	runBench(b, e, r, http.StatusOK)
}

// BenchmarkEdgeSmallFileLogHub is BenchmarkEdgeSmallFile with a live-log
// hub nobody listens to, as pier serve runs: the request event must cost
// nothing then.
func BenchmarkEdgeSmallFileLogHub(b *testing.B) {
	e := newEnv(b, Config{Logs: logstream.New(0)})
	e.site("site", "d1", templateSite(), tenants.DeploymentConfig{})
	runBench(b, e, benchRequest("/small.txt", "site.pier.test"), 200)
}

// BenchmarkEdgeSmallFileFollowed is BenchmarkEdgeSmallFile while someone
// follows the live log: of another site (the request builds no event), or
// of this one (one request event per request, the reader never reads: the
// oldest is dropped each time).
func BenchmarkEdgeSmallFileFollowed(b *testing.B) {
	for _, site := range []string{"other", "site"} {
		b.Run(site, func(b *testing.B) {
			hub := logstream.New(0)
			e := newEnv(b, Config{Logs: hub})
			e.site("site", "d1", templateSite(), tenants.DeploymentConfig{})
			sub := hub.Subscribe(site)
			defer sub.Close()
			runBench(b, e, benchRequest("/small.txt", "site.pier.test"), 200)
		})
	}
}
