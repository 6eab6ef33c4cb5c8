package hosting

import (
	"context"
	"path/filepath"
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
