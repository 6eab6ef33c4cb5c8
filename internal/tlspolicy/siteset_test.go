package tlspolicy

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/sqlitestore"
)

// fakeSites is a SiteLister over fixed slices.
type fakeSites struct {
	mu      sync.Mutex
	tenants []tenants.Tenant
	sites   []tenants.Site
	fail    error
}

func (f *fakeSites) Sites(context.Context, string) ([]tenants.Site, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tenants.Site(nil), f.sites...), f.fail
}

func (f *fakeSites) Tenants(context.Context, tenants.TenantFilter) ([]tenants.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tenants.Tenant(nil), f.tenants...), f.fail
}

func TestSiteSet(t *testing.T) {
	clock := newFakeClock()
	fs := &fakeSites{
		tenants: []tenants.Tenant{{ID: "t1"}, {ID: "t2", Disabled: true}},
		sites:   []tenants.Site{{Name: "blog", TenantID: "t1"}, {Name: "shop", TenantID: "t2"}},
	}
	s := NewSiteSet(fs, SiteSetConfig{Now: clock.Now, MaxStale: time.Minute})
	if s.Has("blog") {
		t.Fatal("Has before the first load said yes")
	}
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, tenant string
		ok           bool
	}{
		{"blog", "t1", true},
		{"shop", "", false}, // disabled tenant
		{"nope", "", false},
		{"", "", false},
	} {
		if tn, ok := s.TenantOf(tc.name); tn != tc.tenant || ok != tc.ok {
			t.Errorf("TenantOf(%q) = %q, %v; want %q, %v", tc.name, tn, ok, tc.tenant, tc.ok)
		}
	}
	// Changed keeps the site until the reload; Removed drops it at once.
	s.Changed("blog")
	if !s.Has("blog") {
		t.Error("Changed dropped a site before the reload")
	}
	s.Removed("blog")
	if s.Has("blog") {
		t.Error("Removed kept the site")
	}
	fs.mu.Lock()
	fs.sites = append(fs.sites, tenants.Site{Name: "new", TenantID: "t1"})
	fs.mu.Unlock()
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.Has("new") || !s.Has("blog") {
		t.Error("reload did not pick up the sites")
	}
	// Failing reloads keep the last set until MaxStale, then say no.
	fs.mu.Lock()
	fs.fail = errors.New("db down")
	fs.mu.Unlock()
	if err := s.Refresh(context.Background()); err == nil {
		t.Error("Refresh with the database down succeeded")
	}
	clock.Advance(30 * time.Second)
	if !s.Has("blog") {
		t.Error("a briefly failing database dropped the set")
	}
	clock.Advance(time.Minute)
	if s.Has("blog") {
		t.Error("a stale set still says yes")
	}
}

func TestSiteSetRun(t *testing.T) {
	fs := &fakeSites{tenants: []tenants.Tenant{{ID: "t1"}}}
	s := NewSiteSet(fs, SiteSetConfig{Refresh: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()
	fs.mu.Lock()
	fs.sites = []tenants.Site{{Name: "blog", TenantID: "t1"}}
	fs.mu.Unlock()
	s.Changed("blog") // kicks a reload well before the hourly one
	testenv.WaitFor(t, testenv.Patience, func() error {
		if !s.Has("blog") {
			return errors.New("Run did not reload after Changed")
		}
		return nil
	})
}

// TestSiteSetWithStore: a real SQLite store satisfies SiteLister, and a
// disabled tenant's sites are left out.
func TestSiteSetWithStore(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, err := range []error{
		store.CreateTenant(ctx, tenants.Tenant{ID: "tn", Name: "acme", Plan: tenants.PlanFree}),
		store.CreateSite(ctx, tenants.Site{ID: "s1", TenantID: "tn", Name: "blog"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := NewSiteSet(store, SiteSetConfig{})
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if tn, ok := s.TenantOf("blog"); !ok || tn != "tn" {
		t.Fatalf("TenantOf(blog) = %q, %v", tn, ok)
	}
	tn, err := store.Tenant(ctx, "tn")
	if err != nil {
		t.Fatal(err)
	}
	tn.Disabled = true
	if err := store.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Has("blog") {
		t.Error("a disabled tenant's site is in the set")
	}
}
