package hosting

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// fakeRegistry is an in-memory Registry with call counters and an
// injectable failure.
type fakeRegistry struct {
	mu          sync.Mutex
	tenants     map[string]tenants.Tenant
	sites       map[string]tenants.Site // by name
	deployments map[string]tenants.Deployment
	fail        error // returned by every call when set

	siteCalls       atomic.Int64
	deploymentCalls atomic.Int64
	block           chan struct{} // when non-nil, Site waits for it
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{
		tenants:     map[string]tenants.Tenant{},
		sites:       map[string]tenants.Site{},
		deployments: map[string]tenants.Deployment{},
	}
}

func (f *fakeRegistry) Site(ctx context.Context, ref string) (tenants.Site, error) {
	f.siteCalls.Add(1)
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return tenants.Site{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return tenants.Site{}, f.fail
	}
	if s, ok := f.sites[ref]; ok {
		return s, nil
	}
	for _, s := range f.sites {
		if s.ID == ref {
			return s, nil
		}
	}
	return tenants.Site{}, fmt.Errorf("site %q: %w", ref, tenants.ErrNotFound)
}

func (f *fakeRegistry) Tenant(ctx context.Context, ref string) (tenants.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return tenants.Tenant{}, f.fail
	}
	if t, ok := f.tenants[ref]; ok {
		return t, nil
	}
	return tenants.Tenant{}, fmt.Errorf("tenant %q: %w", ref, tenants.ErrNotFound)
}

func (f *fakeRegistry) Deployment(ctx context.Context, siteID, id string) (tenants.Deployment, error) {
	f.deploymentCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return tenants.Deployment{}, f.fail
	}
	d, ok := f.deployments[id]
	if !ok || d.SiteID != siteID {
		return tenants.Deployment{}, fmt.Errorf("deployment %q: %w", id, tenants.ErrNotFound)
	}
	return d, nil
}

func (f *fakeRegistry) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

func (f *fakeRegistry) addTenant(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants[id] = tenants.Tenant{ID: id, Name: "tenant-" + id, Plan: tenants.PlanFree}
}

func (f *fakeRegistry) addSite(tenantID, id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites[name] = tenants.Site{ID: id, TenantID: tenantID, Name: name}
}

// deploy adds deployment d of site name and activates it when active.
func (f *fakeRegistry) deploy(name string, d tenants.Deployment, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sites[name]
	d.SiteID = s.ID
	d.TenantID = s.TenantID
	f.deployments[d.ID] = d
	if active {
		s.ActiveDeployment = d.ID
		f.sites[name] = s
	}
}

func (f *fakeRegistry) deleteSite(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sites, name)
}

// fakeBlobs is an in-memory Blobs with an injectable failure and a call
// counter.
type fakeBlobs struct {
	mu    sync.RWMutex
	data  map[string][]byte
	fail  error
	calls atomic.Int64
}

func newFakeBlobs() *fakeBlobs { return &fakeBlobs{data: map[string][]byte{}} }

func (b *fakeBlobs) Bytes(ctx context.Context, key string) ([]byte, error) {
	b.calls.Add(1)
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.fail != nil {
		return nil, b.fail
	}
	d, ok := b.data[key]
	if !ok {
		return nil, fmt.Errorf("blob %q: %w", key, assets.ErrNotFound)
	}
	return d, nil
}

func (b *fakeBlobs) setFail(err error) {
	b.mu.Lock()
	b.fail = err
	b.mu.Unlock()
}

// file is the content of a test file and its optional variants.
type testFile struct {
	body  string
	ctype string
	br    string // stored brotli variant ("" = none); content is opaque here
	gz    string
}

var testSalt = []byte("0123456789abcdef")

// manifest stores the files in blobs for tenantID and returns the manifest.
func (b *fakeBlobs) manifest(tenantID string, files map[string]testFile) assets.Manifest {
	m := assets.Manifest{}
	b.mu.Lock()
	defer b.mu.Unlock()
	for p, f := range files {
		h := assets.Hash(testSalt, []byte(f.body))
		ct := f.ctype
		if ct == "" {
			ct = guessType(p)
		}
		e := assets.Entry{Hash: h, Size: int64(len(f.body)), ContentType: ct}
		b.data[assets.Key(tenantID, h, "")] = []byte(f.body)
		if f.br != "" {
			e.BrSize = int64(len(f.br))
			b.data[assets.Key(tenantID, h, assets.VariantBrotli)] = []byte(f.br)
		}
		if f.gz != "" {
			e.GzSize = int64(len(f.gz))
			b.data[assets.Key(tenantID, h, assets.VariantGzip)] = []byte(f.gz)
		}
		m[p] = e
	}
	return m
}

func guessType(p string) string {
	switch {
	case strings.HasSuffix(p, ".html"):
		return "text/html; charset=utf-8"
	case strings.HasSuffix(p, ".js"):
		return "text/javascript; charset=utf-8"
	case strings.HasSuffix(p, ".css"):
		return "text/css; charset=utf-8"
	}
	return "application/octet-stream"
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	ns atomic.Int64 // Unix nanoseconds
}

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is an edge over a fake registry and blob store with one tenant.
type env struct {
	t     testing.TB
	reg   *fakeRegistry
	blobs *fakeBlobs
	clock *fakeClock
	edge  *Edge
}

const testTenant = "tn1"

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{t: t, reg: newFakeRegistry(), blobs: newFakeBlobs(), clock: newFakeClock()}
	e.reg.addTenant(testTenant)
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	if cfg.Domain == "" {
		cfg.Domain = "pier.test"
	}
	e.edge = New(cfg, e.reg, e.blobs)
	return e
}

// site creates site name with an active deployment depID of files.
func (e *env) site(name, depID string, files map[string]testFile, cfg tenants.DeploymentConfig) {
	e.t.Helper()
	e.reg.mu.Lock()
	_, exists := e.reg.sites[name]
	e.reg.mu.Unlock()
	if !exists {
		e.reg.addSite(testTenant, "s-"+name, name)
	}
	e.deploy(name, depID, files, cfg, true)
}

func (e *env) deploy(name, depID string, files map[string]testFile, cfg tenants.DeploymentConfig, active bool) {
	e.t.Helper()
	e.reg.deploy(name, tenants.Deployment{ID: depID, Manifest: e.blobs.manifest(testTenant, files), Config: cfg}, active)
}

// do sends a request and returns the recorded response.
func (e *env) do(method, target, host string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.edge.ServeHTTP(w, r)
	return w
}

func (e *env) get(target, host string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(http.MethodGet, target, host, hdr...)
}
