package hosting

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
)

// fakeDomains adds custom-domain claims to a fakeRegistry.
type fakeDomains struct {
	*fakeRegistry
	dmu    sync.Mutex
	claims []tenants.Domain
	calls  int
	fail   error
}

func (f *fakeDomains) ActiveDomain(ctx context.Context, host string) (tenants.Domain, error) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	f.calls++
	if f.fail != nil {
		return tenants.Domain{}, f.fail
	}
	for _, d := range f.claims {
		if d.Hostname == host && d.Status == tenants.DomainActive {
			return d, nil
		}
	}
	return tenants.Domain{}, fmt.Errorf("domain %s: %w", host, tenants.ErrNotFound)
}

func (f *fakeDomains) DomainClaims(ctx context.Context, host string) ([]tenants.Domain, error) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []tenants.Domain
	for _, d := range f.claims {
		if d.Hostname == host {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeDomains) ActiveDomains(ctx context.Context) ([]string, error) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	out := []string{}
	for _, d := range f.claims {
		if d.Status == tenants.DomainActive {
			out = append(out, d.Hostname)
		}
	}
	return out, nil
}

func (f *fakeDomains) set(claims ...tenants.Domain) {
	f.dmu.Lock()
	f.claims = claims
	f.dmu.Unlock()
}

func newDomainEnv(t *testing.T) (*env, *fakeDomains) {
	e := newEnv(t, Config{})
	fd := &fakeDomains{fakeRegistry: e.reg}
	e.edge = New(Config{Domain: "pier.test", Now: e.clock.Now}, fd, e.blobs)
	e.site("blog", "d1", map[string]testFile{"/index.html": {body: "blog home", ctype: "text/html"}}, tenants.DeploymentConfig{})
	e.site("shop", "d2", map[string]testFile{"/index.html": {body: "shop home", ctype: "text/html"}}, tenants.DeploymentConfig{})
	return e, fd
}

func claim(host, siteID, status, token string) tenants.Domain {
	return tenants.Domain{Hostname: host, SiteID: siteID, TenantID: testTenant, Status: status, Token: token, CertStatus: tenants.CertNone}
}

func TestCustomDomainRouting(t *testing.T) {
	e, fd := newDomainEnv(t)
	fd.set(
		claim("www.example.com", "s-blog", tenants.DomainActive, "tok-a"),
		claim("pending.example.com", "s-blog", tenants.DomainPending, "tok-p"),
		claim("www.example.com", "s-shop", tenants.DomainPending, "tok-s"),
		claim("gone.example.com", "s-gone", tenants.DomainActive, "tok-g"),
	)
	tests := []struct {
		name, host, path string
		status           int
		body             string
	}{
		{"active custom domain serves its site", "www.example.com", "/", 200, "blog home"},
		{"any case and port", "WWW.Example.COM:8080", "/", 200, "blog home"},
		{"pending domain is not served", "pending.example.com", "/", 404, "hostname not configured\n"},
		{"unknown domain", "other.example.com", "/", 404, "hostname not configured\n"},
		{"claim of a deleted site", "gone.example.com", "/", 404, "hostname not configured\n"},
		{"IP literal", "192.0.2.1", "/", 404, "hostname not configured\n"},
		{"challenge of a pending claim", "pending.example.com", ChallengePath + "tok-p", 200, "tok-p"},
		{"challenge of a pending claim on an active name", "www.example.com", ChallengePath + "tok-s", 200, "tok-s"},
		{"challenge with a wrong token", "pending.example.com", ChallengePath + "tok-x", 404, "hostname not configured\n"},
		{"challenge of an active claim is not answered", "www.example.com", ChallengePath + "tok-a", 404, ""},
		{"platform site still routed", "shop.pier.test", "/", 200, "shop home"},
		{"platform subdomains are not custom", "x.y.pier.test", "/", 404, "hostname not configured\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.get(tc.path, tc.host)
			if w.Code != tc.status || tc.body != "" && w.Body.String() != tc.body {
				t.Fatalf("GET %s%s = %d %q, want %d %q", tc.host, tc.path, w.Code, w.Body.String(), tc.status, tc.body)
			}
		})
	}
}

func TestCustomDomainInvalidation(t *testing.T) {
	e, fd := newDomainEnv(t)
	fd.set(claim("www.example.com", "s-blog", tenants.DomainActive, "t1"))
	if w := e.get("/", "www.example.com"); w.Body.String() != "blog home" {
		t.Fatalf("before: %d %q", w.Code, w.Body.String())
	}
	// Moved to another site: cached until invalidated.
	fd.set(claim("www.example.com", "s-shop", tenants.DomainActive, "t2"))
	if w := e.get("/", "www.example.com"); w.Body.String() != "blog home" {
		t.Fatalf("cached route: %d %q", w.Code, w.Body.String())
	}
	e.edge.InvalidateHost("www.example.com")
	if w := e.get("/", "www.example.com"); w.Body.String() != "shop home" {
		t.Fatalf("after InvalidateHost: %d %q", w.Code, w.Body.String())
	}
	// Invalidating the site drops its custom hostnames too.
	fd.set()
	e.edge.Invalidate("shop")
	if w := e.get("/", "www.example.com"); w.Code != 404 {
		t.Fatalf("after Invalidate(site): %d %q", w.Code, w.Body.String())
	}
	// Registry failure: 503, not a cached negative.
	e.edge.InvalidateHost("www.example.com")
	fd.dmu.Lock()
	fd.fail = errors.New("db down")
	fd.dmu.Unlock()
	if w := e.get("/", "www.example.com"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("registry down: %d", w.Code)
	}
}

// A registry without DomainRegistry serves no custom hostnames.
func TestCustomDomainsNeedDomainRegistry(t *testing.T) {
	e := newEnv(t, Config{})
	e.site("blog", "d1", map[string]testFile{"/index.html": {body: "blog home", ctype: "text/html"}}, tenants.DeploymentConfig{})
	if w := e.get("/", "www.example.com"); w.Code != 404 || !strings.Contains(w.Body.String(), "hostname not configured") {
		t.Fatalf("custom host without DomainRegistry: %d %q", w.Code, w.Body.String())
	}
}

func TestDomainSet(t *testing.T) {
	clock := newFakeClock()
	fd := &fakeDomains{fakeRegistry: newFakeRegistry()}
	fd.set(claim("www.example.com", "s1", tenants.DomainActive, "t"), claim("p.example.com", "s1", tenants.DomainPending, "t"))
	s := NewDomainSet(fd, DomainSetConfig{Now: clock.Now, MaxStale: time.Minute})
	if s.IsActive("www.example.com") {
		t.Fatal("IsActive before the first load said yes")
	}
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want bool
	}{
		{"www.example.com", true},
		{"WWW.EXAMPLE.COM.", true},
		{"p.example.com", false},
		{"example.com", false},
		{"", false},
		{"bad host!", false},
	}
	for _, tc := range tests {
		if got := s.IsActive(tc.host); got != tc.want {
			t.Errorf("IsActive(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	// A hostname moving to another site stays active through Changed
	// (it is never dropped, not even until the reload).
	fd.set(claim("www.example.com", "s2", tenants.DomainActive, "t2"), claim("p.example.com", "s1", tenants.DomainPending, "t"))
	s.Changed("www.example.com")
	if !s.IsActive("www.example.com") {
		t.Error("a hostname taken over by another site was dropped by Changed")
	}
	// Changed applies a removal and an activation at once.
	fd.set(claim("p.example.com", "s1", tenants.DomainActive, "t"))
	s.Changed("www.example.com")
	s.Changed("p.example.com")
	if s.IsActive("www.example.com") || !s.IsActive("p.example.com") {
		t.Error("Changed did not apply a removal and an activation before the reload")
	}
	// Without a working lookup Changed removes, and the reload decides.
	fd.dmu.Lock()
	fd.fail = errors.New("db down")
	fd.dmu.Unlock()
	s.Changed("p.example.com")
	if s.IsActive("p.example.com") {
		t.Error("Changed kept a host it could not look up")
	}
	fd.dmu.Lock()
	fd.fail = nil
	fd.dmu.Unlock()
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.IsActive("p.example.com") || s.IsActive("www.example.com") {
		t.Error("reload did not pick up the change")
	}
	// Failing reloads keep the last set until MaxStale, then say no.
	fd.dmu.Lock()
	fd.fail = errors.New("db down")
	fd.dmu.Unlock()
	if err := s.Refresh(context.Background()); err == nil {
		t.Error("Refresh with the database down succeeded")
	}
	clock.Advance(30 * time.Second)
	if !s.IsActive("p.example.com") {
		t.Error("a briefly failing database dropped the set")
	}
	clock.Advance(time.Minute)
	if s.IsActive("p.example.com") {
		t.Error("a stale set still says yes")
	}
}

func TestDomainSetRun(t *testing.T) {
	fd := &fakeDomains{fakeRegistry: newFakeRegistry()}
	s := NewDomainSet(fd, DomainSetConfig{Refresh: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()
	fd.set(claim("www.example.com", "s1", tenants.DomainActive, "t"))
	s.Changed("www.example.com") // kicks a reload well before the hourly one
	testenv.WaitFor(t, testenv.Patience, func() error {
		if !s.IsActive("www.example.com") {
			return errors.New("Run did not reload after Changed")
		}
		return nil
	})
}
