package hosting

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/tenants"
)

// fakeSecrets serves SiteSecrets from a map, or fails.
type fakeSecrets struct {
	mu    sync.Mutex
	m     map[string]map[string]string // site ID → name → value
	err   error
	calls int
}

func (f *fakeSecrets) SiteSecrets(_ context.Context, siteID string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.m[siteID], nil
}

func (f *fakeSecrets) set(siteID, name, value string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m[siteID] == nil {
		f.m[siteID] = map[string]string{}
	}
	f.m[siteID][name] = value
	f.err = err
}

func TestWorkerSecrets(t *testing.T) {
	sec := &fakeSecrets{m: map[string]map[string]string{}}
	e := newWorkerEnv(t, Config{Secrets: sec})
	sec.set("s-app", "greeting", "first-secret", nil)
	e.workerSite("app", "d1", "vars", nil, tenants.DeploymentConfig{Vars: map[string]string{"greeting": "var"}})
	e.workerSite("plain", "d2", "vars", nil, tenants.DeploymentConfig{Vars: map[string]string{"greeting": "var"}})

	body := func(host string) string {
		t.Helper()
		w := e.get("/", host)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %q", host, w.Code, w.Body.String())
		}
		return w.Body.String()
	}
	if got, want := body("app.pier.test"), `{"greeting":"var"}|first-secret|unset`; got != want {
		t.Fatalf("body %q, want %q (the secret over the var, get_config vars only)", got, want)
	}
	if got, want := body("plain.pier.test"), `{"greeting":"var"}|var|unset`; got != want {
		t.Fatalf("a site without secrets: %q, want %q", got, want)
	}

	t.Run("a change takes effect once the site is invalidated", func(t *testing.T) {
		sec.set("s-app", "greeting", "second-secret", nil)
		e.edge.Invalidate("app")
		if got := body("app.pier.test"); !strings.Contains(got, "|second-secret|") {
			t.Fatalf("after invalidation: %q", got)
		}
	})
	t.Run("a load failure answers 503 and is retried", func(t *testing.T) {
		sec.set("s-app", "greeting", "third-secret", errors.New("store down"))
		e.edge.Invalidate("app")
		for range 2 {
			w := e.get("/", "app.pier.test")
			if w.Code != 503 || !strings.Contains(w.Body.String(), "worker_unavailable") {
				t.Fatalf("got %d %q, want 503 worker_unavailable", w.Code, w.Body.String())
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("the answer mentions secrets: %q", w.Body.String())
			}
		}
		sec.set("s-app", "greeting", "third-secret", nil)
		if got := body("app.pier.test"); !strings.Contains(got, "|third-secret|") {
			t.Fatalf("after recovery: %q", got)
		}
	})
}
