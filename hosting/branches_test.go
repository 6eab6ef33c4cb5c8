package hosting

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// fakeBranches adds git branch aliases to a fakeRegistry.
type fakeBranches struct {
	*fakeRegistry
	bmu   sync.Mutex
	refs  []tenants.GitRef
	calls int
	fail  error
}

func (f *fakeBranches) GitAlias(ctx context.Context, siteID, alias string) (tenants.GitRef, error) {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	f.calls++
	if f.fail != nil {
		return tenants.GitRef{}, f.fail
	}
	for _, r := range f.refs {
		if r.SiteID == siteID && r.Alias == alias {
			return r, nil
		}
	}
	return tenants.GitRef{}, fmt.Errorf("alias %s: %w", alias, tenants.ErrNotFound)
}

func (f *fakeBranches) set(refs ...tenants.GitRef) {
	f.bmu.Lock()
	f.refs = refs
	f.bmu.Unlock()
}

func (f *fakeBranches) lookups() int {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	return f.calls
}

func newBranchEnv(t *testing.T) (*env, *fakeBranches) {
	e := newEnv(t, Config{})
	fb := &fakeBranches{fakeRegistry: e.reg}
	e.edge = New(Config{Domain: "pier.test", Now: e.clock.Now, RouteTTL: time.Hour}, fb, e.blobs)
	e.site("blog", "d1", helloSite, tenants.DeploymentConfig{})
	e.deploy("blog", "d2", map[string]testFile{"/index.html": {body: "feature"}}, tenants.DeploymentConfig{}, false)
	e.deploy("blog", "abcd1234", map[string]testFile{"/index.html": {body: "by id"}}, tenants.DeploymentConfig{}, false)
	e.site("shop", "d3", map[string]testFile{"/index.html": {body: "shop"}}, tenants.DeploymentConfig{})
	fb.set(
		tenants.GitRef{SiteID: "s-blog", Name: "refs/heads/feature/x", Alias: "feature-x", Deployment: "d2"},
		tenants.GitRef{SiteID: "s-blog", Name: "refs/heads/d1", Alias: "d1", Deployment: "d2"},
		tenants.GitRef{SiteID: "s-blog", Name: "refs/heads/wip", Alias: "wip", Deployment: "gone"},
		tenants.GitRef{SiteID: "s-blog", Name: "refs/heads/main", Deployment: "d1"},
		tenants.GitRef{SiteID: "s-shop", Name: "refs/heads/sale", Alias: "sale", Deployment: "d3"},
	)
	return e, fb
}

func TestBranchAliasRouting(t *testing.T) {
	t.Parallel()
	e, fb := newBranchEnv(t)
	const notConfigured = "hostname not configured (hostname_not_configured)\n"
	tests := []struct {
		name, host string
		status     int
		body       string
	}{
		{"alias", "feature-x--blog.pier.test", 200, "feature"},
		{"a deployment id wins over an alias of the same name", "d1--blog.pier.test", 200, "hello"},
		{"generated deployment id", "abcd1234--blog.pier.test", 200, "by id"},
		{"production host unchanged", "blog.pier.test", 200, "hello"},
		{"unknown alias", "nope--blog.pier.test", 404, notConfigured},
		{"alias of another site", "sale--blog.pier.test", 404, notConfigured},
		{"alias whose deployment is gone", "wip--blog.pier.test", 404, notConfigured},
		{"alias on the right site", "sale--shop.pier.test", 200, "shop"},
		{"alias of an unknown site", "feature-x--nope.pier.test", 404, notConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.get("/", tc.host)
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Fatalf("GET %s/: %d %q, want %d %q", tc.host, rec.Code, rec.Body.String(), tc.status, tc.body)
			}
			if tc.status == 200 && tc.host != "blog.pier.test" && rec.Header().Get("X-Robots-Tag") != "noindex" {
				t.Errorf("alias or preview without X-Robots-Tag: noindex")
			}
		})
	}
	t.Run("a generated id is never looked up as an alias", func(t *testing.T) {
		before := fb.lookups()
		e.get("/", "zzzz9999--blog.pier.test")
		if got := fb.lookups(); got != before {
			t.Fatalf("%d alias lookups for an id-shaped prefix, want 0", got-before)
		}
	})
}

// A push moves the alias: the store reports a ChangeSite of the site, and
// Invalidate drops the alias routes with the site's other routes.
func TestBranchAliasFollowsPushes(t *testing.T) {
	t.Parallel()
	e, fb := newBranchEnv(t)
	if got := e.get("/", "feature-x--blog.pier.test").Body.String(); got != "feature" {
		t.Fatalf("got %q", got)
	}
	e.deploy("blog", "d4", map[string]testFile{"/index.html": {body: "pushed again"}}, tenants.DeploymentConfig{}, false)
	fb.set(tenants.GitRef{SiteID: "s-blog", Name: "refs/heads/feature/x", Alias: "feature-x", Deployment: "d4"})
	if got := e.get("/", "feature-x--blog.pier.test").Body.String(); got != "feature" {
		t.Fatalf("before Invalidate the cached route should serve: got %q", got)
	}
	e.edge.Invalidate("blog")
	if got := e.get("/", "feature-x--blog.pier.test").Body.String(); got != "pushed again" {
		t.Fatalf("after Invalidate: got %q, want the new push", got)
	}

	// Deleting the branch removes its alias.
	fb.set()
	e.edge.Invalidate("blog")
	if rec := e.get("/", "feature-x--blog.pier.test"); rec.Code != http.StatusNotFound {
		t.Fatalf("deleted branch: %d %q", rec.Code, rec.Body.String())
	}
	// The negative answer is dropped too when the branch is pushed again.
	fb.set(tenants.GitRef{SiteID: "s-blog", Name: "refs/heads/feature/x", Alias: "feature-x", Deployment: "d2"})
	e.edge.Invalidate("blog")
	if got := e.get("/", "feature-x--blog.pier.test").Body.String(); got != "feature" {
		t.Fatalf("recreated branch: got %q", got)
	}
}

func TestBranchAliasLookupFailure(t *testing.T) {
	t.Parallel()
	e, fb := newBranchEnv(t)
	fb.bmu.Lock()
	fb.fail = errors.New("db down")
	fb.bmu.Unlock()
	if rec := e.get("/", "feature-x--blog.pier.test"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("registry down: %d, want 503", rec.Code)
	}
	fb.bmu.Lock()
	fb.fail = nil
	fb.bmu.Unlock()
	if got := e.get("/", "feature-x--blog.pier.test").Body.String(); got != "feature" {
		t.Fatalf("after recovery (failures are not cached): got %q", got)
	}
}

// A registry without BranchRegistry serves no aliases, only previews.
func TestBranchAliasesNeedBranchRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("blog", "d1", helloSite, tenants.DeploymentConfig{})
	if rec := e.get("/", "feature-x--blog.pier.test"); rec.Code != http.StatusNotFound {
		t.Fatalf("alias without BranchRegistry: %d %q", rec.Code, rec.Body.String())
	}
	if got := e.get("/", "d1--blog.pier.test").Body.String(); got != "hello" {
		t.Fatalf("preview: got %q", got)
	}
}
