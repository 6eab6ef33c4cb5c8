package hosting

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

var helloSite = map[string]testFile{"/index.html": {body: "hello"}}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Domain: "Pier.Test."})
	e.site("blog", "d1", helloSite, tenants.DeploymentConfig{})
	e.deploy("blog", "d2", map[string]testFile{"/index.html": {body: "preview"}}, tenants.DeploymentConfig{}, false)
	e.reg.addSite(testTenant, "s-empty", "empty") // no active deployment
	e.reg.addTenant("off")
	e.reg.mu.Lock()
	tn := e.reg.tenants["off"]
	tn.Disabled = true
	e.reg.tenants["off"] = tn
	e.reg.mu.Unlock()
	e.reg.addSite("off", "s-off", "off")
	e.reg.deploy("off", tenants.Deployment{ID: "d9", Manifest: e.blobs.manifest("off", helloSite)}, true)

	tests := []struct {
		name, host string
		status     int
		body       string
		noindex    bool
	}{
		{"site", "blog.pier.test", 200, "hello", false},
		{"port", "blog.pier.test:8080", 200, "hello", false},
		{"trailing dot", "blog.pier.test.", 200, "hello", false},
		{"uppercase", "BLOG.Pier.TEST", 200, "hello", false},
		{"preview", "d2--blog.pier.test", 200, "preview", true},
		{"preview of active deployment", "d1--blog.pier.test", 200, "hello", true},
		{"unknown preview", "zz--blog.pier.test", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"unknown site", "nope.pier.test", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"site by id is not routed", "s-blog.pier.test", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"no active deployment", "empty.pier.test", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"disabled tenant", "off.pier.test", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"bare domain", "pier.test", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"deeper subdomain", "www.blog.pier.test", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"other domain", "blog.example.com", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"ip address", "127.0.0.1:8080", 404, "hostname not configured (hostname_not_configured)\n", false},
		{"malformed", "blog_x.pier.test", 400, "bad request: malformed host (malformed_host)\n", false},
		{"empty host", "", 400, "bad request: malformed host (malformed_host)\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.get("/", tc.host)
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Fatalf("GET %s/: %d %q, want %d %q", tc.host, rec.Code, rec.Body.String(), tc.status, tc.body)
			}
			if got := rec.Header().Get("X-Robots-Tag") == "noindex"; got != tc.noindex {
				t.Errorf("X-Robots-Tag: noindex present = %v, want %v", got, tc.noindex)
			}
			if tc.status == 404 && rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("404 Content-Type %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestIDNDomain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Domain: "bücher.example"})
	e.site("shop", "d1", helloSite, tenants.DeploymentConfig{})
	for _, host := range []string{"shop.bücher.example", "SHOP.BÜCHER.example:443", "shop.xn--bcher-kva.example."} {
		t.Run(host, func(t *testing.T) {
			if rec := e.get("/", host); rec.Code != 200 || rec.Body.String() != "hello" {
				t.Fatalf("GET %s: %d %q", host, rec.Code, rec.Body.String())
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", helloSite, tenants.DeploymentConfig{Redirects: "/old /new 301\n"})
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, "PATCH"} {
		t.Run(m, func(t *testing.T) {
			rec := e.do(m, "/old", "site.pier.test")
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
				t.Fatalf("%s: %d Allow=%q", m, rec.Code, rec.Header().Get("Allow"))
			}
		})
	}
	t.Run("unknown host stays 404", func(t *testing.T) {
		if rec := e.do(http.MethodPost, "/", "nope.pier.test"); rec.Code != http.StatusNotFound {
			t.Fatalf("got %d", rec.Code)
		}
	})
}

func TestRegistryFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", helloSite, tenants.DeploymentConfig{})
	e.reg.setFail(errors.New("connection refused to db.internal:5432"))
	rec := e.get("/", "site.pier.test")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "db.internal") {
		t.Fatalf("body leaks the cause: %q", rec.Body.String())
	}
	// The failure is not cached: once the registry is back, the site serves.
	e.reg.setFail(nil)
	if rec := e.get("/", "site.pier.test"); rec.Code != 200 {
		t.Fatalf("after recovery: %d", rec.Code)
	}
}

func TestInvalidate(t *testing.T) {
	t.Parallel()
	t.Run("new deployment visible on the next request", func(t *testing.T) {
		e := newEnv(t, Config{RouteTTL: time.Hour})
		e.site("site", "d1", helloSite, tenants.DeploymentConfig{})
		if got := e.get("/", "site.pier.test").Body.String(); got != "hello" {
			t.Fatalf("got %q", got)
		}
		e.deploy("site", "d2", map[string]testFile{"/index.html": {body: "v2"}}, tenants.DeploymentConfig{}, true)
		if got := e.get("/", "site.pier.test").Body.String(); got != "hello" {
			t.Fatalf("before Invalidate the cached route should serve: got %q", got)
		}
		e.edge.Invalidate("site")
		if got := e.get("/", "site.pier.test").Body.String(); got != "v2" {
			t.Fatalf("after Invalidate: got %q, want v2", got)
		}
	})
	t.Run("deleted site and its previews", func(t *testing.T) {
		e := newEnv(t, Config{RouteTTL: time.Hour})
		e.site("site", "d1", helloSite, tenants.DeploymentConfig{})
		for _, h := range []string{"site.pier.test", "d1--site.pier.test"} {
			if rec := e.get("/", h); rec.Code != 200 {
				t.Fatalf("%s: %d", h, rec.Code)
			}
		}
		e.reg.deleteSite("site")
		e.edge.Invalidate("site")
		for _, h := range []string{"site.pier.test", "d1--site.pier.test"} {
			if rec := e.get("/", h); rec.Code != 404 {
				t.Fatalf("%s after delete: %d", h, rec.Code)
			}
		}
	})
	t.Run("site created after a negative lookup", func(t *testing.T) {
		e := newEnv(t, Config{NegativeTTL: time.Hour})
		if rec := e.get("/", "late.pier.test"); rec.Code != 404 {
			t.Fatalf("got %d", rec.Code)
		}
		e.site("late", "d1", helloSite, tenants.DeploymentConfig{})
		e.edge.Invalidate("late")
		if rec := e.get("/", "late.pier.test"); rec.Code != 200 {
			t.Fatalf("after Invalidate: %d", rec.Code)
		}
	})
}

// waitIdle waits until no background revalidation of host is running.
func waitIdle(t *testing.T, e *env, host string) {
	t.Helper()
	ent := e.edge.routes.get(host)
	if ent == nil {
		return
	}
	ent.mu.Lock()
	c := ent.call
	ent.mu.Unlock()
	if c != nil {
		<-c.done
	}
}

func TestBackgroundRevalidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{RouteTTL: 10 * time.Second})
	e.site("site", "d1", helloSite, tenants.DeploymentConfig{})
	const host = "site.pier.test"
	e.get("/", host)
	calls := e.reg.siteCalls.Load()

	// Fresh: no registry traffic.
	e.clock.Advance(9 * time.Second)
	if got := e.get("/", host).Body.String(); got != "hello" {
		t.Fatalf("got %q", got)
	}
	if n := e.reg.siteCalls.Load(); n != calls {
		t.Fatalf("fresh route hit the registry (%d calls)", n-calls)
	}

	// Stale: the stale route serves and one refresh runs in the background.
	e.deploy("site", "d2", map[string]testFile{"/index.html": {body: "v2"}}, tenants.DeploymentConfig{}, true)
	e.clock.Advance(2 * time.Second)
	if got := e.get("/", host).Body.String(); got != "hello" {
		t.Fatalf("stale request: got %q, want the cached deployment", got)
	}
	waitIdle(t, e, host)
	if n := e.reg.siteCalls.Load(); n != calls+1 {
		t.Fatalf("revalidation made %d Site calls, want 1", n-calls)
	}
	if got := e.get("/", host).Body.String(); got != "v2" {
		t.Fatalf("after revalidation: got %q, want v2", got)
	}

	// A failed revalidation keeps serving the cached route.
	e.reg.setFail(errors.New("db down"))
	e.clock.Advance(11 * time.Second)
	if rec := e.get("/", host); rec.Code != 200 || rec.Body.String() != "v2" {
		t.Fatalf("during outage: %d %q", rec.Code, rec.Body.String())
	}
	waitIdle(t, e, host)
	if rec := e.get("/", host); rec.Code != 200 || rec.Body.String() != "v2" {
		t.Fatalf("after failed revalidation: %d %q", rec.Code, rec.Body.String())
	}
	waitIdle(t, e, host)
	e.reg.setFail(nil)

	// Unchanged deployment: revalidation does not fetch the manifest again.
	deps := e.reg.deploymentCalls.Load()
	e.clock.Advance(11 * time.Second)
	e.get("/", host)
	waitIdle(t, e, host)
	if n := e.reg.deploymentCalls.Load(); n != deps {
		t.Fatalf("revalidating an unchanged route fetched the deployment %d times", n-deps)
	}
}

func TestNegativeCache(t *testing.T) {
	t.Parallel()
	t.Run("unknown host cached for NegativeTTL", func(t *testing.T) {
		e := newEnv(t, Config{NegativeTTL: 2 * time.Second})
		for range 5 {
			e.get("/", "ghost.pier.test")
		}
		if n := e.reg.siteCalls.Load(); n != 1 {
			t.Fatalf("%d registry lookups for one unknown host, want 1", n)
		}
		e.clock.Advance(3 * time.Second)
		e.get("/", "ghost.pier.test")
		waitIdle(t, e, "ghost.pier.test")
		if n := e.reg.siteCalls.Load(); n != 2 {
			t.Fatalf("%d lookups after expiry, want 2", n)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		const limit = 256
		e := newEnv(t, Config{MaxUnknownHosts: limit})
		e.site("real", "d1", helloSite, tenants.DeploymentConfig{})
		e.get("/", "real.pier.test")
		for i := range 20 * limit {
			if rec := e.get("/", fmt.Sprintf("junk%d.pier.test", i)); rec.Code != 404 {
				t.Fatalf("junk host: %d", rec.Code)
			}
		}
		all, neg := e.edge.routes.counts()
		if neg > limit || neg < limit/2 {
			t.Fatalf("%d negative entries cached, want between %d and %d", neg, limit/2, limit)
		}
		if all != neg+1 {
			t.Fatalf("%d entries, want the %d negatives plus the real site", all, neg)
		}
		calls := e.reg.siteCalls.Load()
		if rec := e.get("/", "real.pier.test"); rec.Code != 200 || e.reg.siteCalls.Load() != calls {
			t.Fatalf("the real site's route was evicted by junk")
		}
	})
	t.Run("hosts outside the domain never reach the registry", func(t *testing.T) {
		e := newEnv(t, Config{})
		for _, h := range []string{"example.com", "a.b.pier.test", "pier.test", "x--.pier.test"} {
			e.get("/", h)
		}
		if n := e.reg.siteCalls.Load(); n != 0 {
			t.Fatalf("%d registry lookups", n)
		}
	})
}

func TestConcurrentMissesCoalesce(t *testing.T) {
	e := newEnv(t, Config{})
	e.site("site", "d1", helloSite, tenants.DeploymentConfig{})
	block := make(chan struct{})
	e.reg.mu.Lock()
	e.reg.block = block
	e.reg.mu.Unlock()
	const n = 20
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Go(func() { codes <- e.get("/", "site.pier.test").Code })
	}
	// Wait until the leader is inside the registry, then release it.
	for e.reg.siteCalls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(block)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("status %d", c)
		}
	}
	if got := e.reg.siteCalls.Load(); got != 1 {
		t.Fatalf("%d registry lookups for %d concurrent requests, want 1", got, n)
	}
}

func TestDeploymentInterningAndEviction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxDeployments: 2})
	for i := range 5 {
		e.site(fmt.Sprintf("same%d", i), fmt.Sprintf("d%d", i), helloSite, tenants.DeploymentConfig{})
	}
	for i := range 5 {
		if rec := e.get("/", fmt.Sprintf("same%d.pier.test", i)); rec.Code != 200 {
			t.Fatalf("same%d: %d", i, rec.Code)
		}
	}
	if n := e.edge.deps.len(); n != 1 {
		t.Fatalf("%d loaded deployments for 5 identical sites, want 1", n)
	}
	for i := range 4 {
		e.site(fmt.Sprintf("diff%d", i), fmt.Sprintf("x%d", i), map[string]testFile{"/index.html": {body: fmt.Sprint("site ", i)}}, tenants.DeploymentConfig{})
	}
	for round := range 2 {
		for i := range 4 {
			rec := e.get("/", fmt.Sprintf("diff%d.pier.test", i))
			if want := fmt.Sprint("site ", i); rec.Code != 200 || rec.Body.String() != want {
				t.Fatalf("round %d diff%d: %d %q, want %q", round, i, rec.Code, rec.Body.String(), want)
			}
		}
	}
	if n := e.edge.deps.len(); n > 2 {
		t.Fatalf("%d loaded deployments, bound is 2", n)
	}
}

func TestBrokenDeployment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	// A rule file that no longer validates (e.g. written before a parser
	// tightened its rules) must not take the edge down or be recompiled on
	// every request.
	e.site("site", "d1", helloSite, tenants.DeploymentConfig{Redirects: "/a /b 404\n"})
	for range 3 {
		rec := e.get("/", "site.pier.test")
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "404") {
			t.Fatalf("%d %q, want a generic 503", rec.Code, rec.Body.String())
		}
	}
	if n := e.reg.deploymentCalls.Load(); n != 1 {
		t.Fatalf("deployment fetched %d times, want 1 (the broken route is cached)", n)
	}
	// Redeploying fixes it.
	e.deploy("site", "d2", helloSite, tenants.DeploymentConfig{}, true)
	e.edge.Invalidate("site")
	if rec := e.get("/", "site.pier.test"); rec.Code != 200 {
		t.Fatalf("after redeploy: %d", rec.Code)
	}
}
