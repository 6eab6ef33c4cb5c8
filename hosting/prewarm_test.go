package hosting

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/pierhq/pier/tenants"
)

// Sites lists the registry's sites by name (a SiteLister).
func (f *fakeRegistry) Sites(_ context.Context, tenantID string) ([]tenants.Site, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []tenants.Site
	for _, s := range f.sites {
		if tenantID == "" || s.TenantID == tenantID {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (e *Edge) hasWorker(site string) bool {
	e.workers.mu.Lock()
	defer e.workers.mu.Unlock()
	for k, sw := range e.workers.m {
		if k.site == site {
			sw.mu.Lock()
			ok := sw.w != nil
			sw.mu.Unlock()
			return ok
		}
	}
	return false
}

// TestPrewarmStartsWorkers: PrewarmWorkers compiles every live worker and
// starts the first `start` of them (by site name) without serving a
// request: the started site's first request finds its worker, and the
// guest has seen no request before it.
func TestPrewarmStartsWorkers(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("a", "d1", "counter", workerFiles, tenants.DeploymentConfig{RunWorkerFirst: []string{"*"}})
	e.workerSite("b", "d2", "counter", workerFiles, tenants.DeploymentConfig{RunWorkerFirst: []string{"*"}})
	e.site("plain", "p1", workerFiles, tenants.DeploymentConfig{})
	n, err := e.edge.PrewarmWorkers(context.Background(), e.reg, 1)
	if err != nil || n != 2 {
		t.Fatalf("PrewarmWorkers = %d, %v; want 2 compiled", n, err)
	}
	if !e.edge.hasWorker("a") {
		t.Error("site a's worker was not started")
	}
	if e.edge.hasWorker("b") {
		t.Error("site b's worker was started past the count of 1")
	}
	w := e.doBody("GET", "/x", "a.pier.test", "")
	if w.Code != 201 || !strings.HasSuffix(strings.TrimSpace(w.Body.String()), " 1") {
		t.Errorf("first request to a prewarmed worker: %d %q, want 201 and the guest's first request", w.Code, w.Body.String())
	}
}
