package hosting

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/sqlitestore"
)

// TestCustomDomainWithStore routes a custom hostname through a real
// tenants.Store: the edge finds DomainRegistry on it, serves the active
// claim's site, answers a pending claim's HTTP proof and forgets a
// deleted domain on InvalidateHost.
func TestCustomDomainWithStore(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	blobs := newFakeBlobs()
	steps := []struct {
		name string
		err  error
	}{
		{"tenant", store.CreateTenant(ctx, tenants.Tenant{ID: "tn", Name: "acme", Plan: tenants.PlanFree})},
		{"site", store.CreateSite(ctx, tenants.Site{ID: "s1", TenantID: "tn", Name: "blog"})},
		{"deployment", store.CreateDeployment(ctx, tenants.Deployment{ID: "d1", SiteID: "s1",
			Manifest: blobs.manifest("tn", map[string]testFile{"/index.html": {body: "blog home", ctype: "text/html"}}),
			Config:   tenants.DeploymentConfig{HTMLHandling: tenants.HTMLAutoTrailingSlash, NotFoundHandling: tenants.NotFoundNone}})},
		{"activate", store.Activate(ctx, "s1", "d1")},
		{"active claim", store.CreateDomain(ctx, tenants.Domain{Hostname: "www.example.com", SiteID: "s1", Status: tenants.DomainActive, Token: "tok-a", CertStatus: tenants.CertNone})},
		{"pending claim", store.CreateDomain(ctx, tenants.Domain{Hostname: "new.example.com", SiteID: "s1", Status: tenants.DomainPending, Token: "tok-p", CertStatus: tenants.CertNone})},
	}
	for _, s := range steps {
		if s.err != nil {
			t.Fatalf("%s: %v", s.name, s.err)
		}
	}
	e := &env{t: t, blobs: blobs, clock: newFakeClock()}
	e.edge = New(Config{Domain: "pier.test", Now: e.clock.Now}, store, blobs)

	if w := e.get("/", "www.example.com"); w.Code != 200 || w.Body.String() != "blog home" {
		t.Fatalf("active custom domain: %d %q", w.Code, w.Body.String())
	}
	if w := e.get("/", "new.example.com"); w.Code != 404 {
		t.Fatalf("pending custom domain: %d %q", w.Code, w.Body.String())
	}
	if w := e.get(ChallengePath+"tok-p", "new.example.com"); w.Code != 200 || w.Body.String() != "tok-p" {
		t.Fatalf("HTTP proof: %d %q", w.Code, w.Body.String())
	}
	if err := store.DeleteDomain(ctx, "s1", "www.example.com"); err != nil {
		t.Fatal(err)
	}
	e.edge.InvalidateHost("www.example.com")
	if w := e.get("/", "www.example.com"); w.Code != 404 {
		t.Fatalf("deleted custom domain: %d %q", w.Code, w.Body.String())
	}
}

// TestBranchAliasWithStore serves a branch alias through a real
// tenants.Store: the edge finds BranchRegistry on it, and a push that
// moves the alias is seen after Invalidate (what the store's ChangeSite
// triggers).
func TestBranchAliasWithStore(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	blobs := newFakeBlobs()
	dep := func(id, body string) tenants.Deployment {
		return tenants.Deployment{ID: id, SiteID: "s1",
			Manifest: blobs.manifest("tn", map[string]testFile{"/index.html": {body: body, ctype: "text/html"}}),
			Config:   tenants.DeploymentConfig{HTMLHandling: tenants.HTMLAutoTrailingSlash, NotFoundHandling: tenants.NotFoundNone}}
	}
	c1, c2 := strings.Repeat("1", 40), strings.Repeat("2", 40)
	ref := func(commit, deployment string) tenants.GitRef {
		return tenants.GitRef{SiteID: "s1", Name: "refs/heads/feature/x", Commit: commit, Deployment: deployment, Alias: "feature-x"}
	}
	steps := []struct {
		name string
		err  error
	}{
		{"tenant", store.CreateTenant(ctx, tenants.Tenant{ID: "tn", Name: "acme", Plan: tenants.PlanFree})},
		{"site", store.CreateSite(ctx, tenants.Site{ID: "s1", TenantID: "tn", Name: "blog"})},
		{"live", store.CreateDeployment(ctx, dep("abcd1234", "live"))},
		{"activate", store.Activate(ctx, "s1", "abcd1234")},
		{"feature", store.CreateDeployment(ctx, dep("efgh5678", "feature"))},
		{"push", store.ApplyGitPush(ctx, tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{{Ref: ref(c1, "efgh5678")}}})},
	}
	for _, s := range steps {
		if s.err != nil {
			t.Fatalf("%s: %v", s.name, s.err)
		}
	}
	e := &env{t: t, blobs: blobs, clock: newFakeClock()}
	e.edge = New(Config{Domain: "pier.test", Now: e.clock.Now}, store, blobs)

	if w := e.get("/", "feature-x--blog.pier.test"); w.Code != 200 || w.Body.String() != "feature" {
		t.Fatalf("alias: %d %q", w.Code, w.Body.String())
	}
	if w := e.get("/", "blog.pier.test"); w.Body.String() != "live" {
		t.Fatalf("production: %q", w.Body.String())
	}
	if err := store.CreateDeployment(ctx, dep("ijkl9012", "feature v2")); err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyGitPush(ctx, tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{{Old: c1, Ref: ref(c2, "ijkl9012")}}}); err != nil {
		t.Fatal(err)
	}
	e.edge.Invalidate("blog")
	if w := e.get("/", "feature-x--blog.pier.test"); w.Body.String() != "feature v2" {
		t.Fatalf("alias after a push: %d %q", w.Code, w.Body.String())
	}
	if err := store.ApplyGitPush(ctx, tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{{Old: c2, Ref: tenants.GitRef{Name: "refs/heads/feature/x"}}}}); err != nil {
		t.Fatal(err)
	}
	e.edge.Invalidate("blog")
	if w := e.get("/", "feature-x--blog.pier.test"); w.Code != 404 {
		t.Fatalf("alias of a deleted branch: %d %q", w.Code, w.Body.String())
	}
}
