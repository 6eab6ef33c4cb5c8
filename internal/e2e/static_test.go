package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestTour follows the README's five-minute tour verbatim against the real
// binary: tenant, site, deploy, browse, redeploy, preview, rollback, restart.
func TestTour(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "acme", "--plan", "pro", "--tag", "region:eu")
	s.pier("sites", "create", "blog", "--tenant", "acme")

	site := filepath.Join(repoRoot(t), "examples", "site")
	v1 := s.deploy(site, "blog")
	// The files published: examples/site's 10 files but pier.toml (never
	// published), _headers and _redirects (configuration, not files).
	if v1.Files != 7 || v1.Uploaded != v1.Files || v1.Reused != 0 {
		t.Errorf("first deploy = %+v, want the 7 files published, every one uploaded", v1)
	}
	if out := s.pier("deployments", "get", "--site", "blog", v1.Deployment); !strings.Contains(out, "Files:               7 (") {
		t.Errorf("deployments get does not count the 7 files the deploy did:\n%s", out)
	}

	host := "blog.localhost"
	t.Run("index", func(t *testing.T) {
		r := s.get(host, "/")
		if r.Status != 200 || !strings.Contains(r.Body, "Hello from Pier") {
			t.Fatalf("GET / = %d %q", r.Status, r.Body)
		}
		if r.Header.Get("ETag") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers = %v", r.Header)
		}
		if got := r.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("_headers not applied: X-Frame-Options = %q", got)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
	})
	t.Run("html handling", func(t *testing.T) {
		if r := s.get(host, "/about"); r.Status != 200 || !strings.Contains(r.Body, "<h1>About</h1>") {
			t.Errorf("GET /about = %d", r.Status)
		}
		if r := s.get(host, "/about.html"); r.Status != 307 || r.Header.Get("Location") != "/about" {
			t.Errorf("GET /about.html = %d %q", r.Status, r.Header.Get("Location"))
		}
		if r := s.get(host, "/blog"); r.Status != 307 || r.Header.Get("Location") != "/blog/" {
			t.Errorf("GET /blog = %d %q", r.Status, r.Header.Get("Location"))
		}
	})
	t.Run("redirects and 404 page", func(t *testing.T) {
		if r := s.get(host, "/old-blog/first-post?x=1"); r.Status != 301 || r.Header.Get("Location") != "/blog/first-post?x=1" {
			t.Errorf("redirect = %d %q", r.Status, r.Header.Get("Location"))
		}
		if r := s.get(host, "/nowhere"); r.Status != 404 || !strings.Contains(r.Body, "Not found") {
			t.Errorf("404 page = %d %q", r.Status, r.Body)
		}
		if r := s.get(host, "/_redirects"); r.Status != 404 {
			t.Errorf("/_redirects served: %d", r.Status)
		}
	})
	t.Run("compression and conditional", func(t *testing.T) {
		r := s.get(host, "/assets/app.js", "Accept-Encoding", "gzip, br")
		if r.Status != 200 || r.Header.Get("Content-Encoding") != "br" || !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("br: %d %v", r.Status, r.Header)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=3600" {
			t.Errorf("Cache-Control from _headers = %q", cc)
		}
		plain := s.get(host, "/assets/app.js")
		if r := s.get(host, "/assets/app.js", "If-None-Match", plain.Header.Get("ETag")); r.Status != 304 {
			t.Errorf("If-None-Match = %d", r.Status)
		}
		if r := s.get(host, "/assets/app.js", "Range", "bytes=0-9"); r.Status != 206 || len(r.Body) != 10 {
			t.Errorf("Range = %d len %d", r.Status, len(r.Body))
		}
	})
	t.Run("unknown host reveals nothing", func(t *testing.T) {
		r := s.get("nope.localhost", "/")
		if r.Status != 404 || !strings.Contains(r.Body, "hostname not configured") || strings.Contains(r.Body, "acme") {
			t.Errorf("unknown host = %d %q", r.Status, r.Body)
		}
	})

	// Redeploy one changed file: exactly one blob travels.
	changed := copyDir(t, site)
	os.WriteFile(filepath.Join(changed, "index.html"), []byte("<h1>Version two</h1>"), 0o644)
	v2 := s.deploy(changed, "blog")
	if v2.Uploaded != 1 || v2.Reused != v2.Files-1 {
		t.Errorf("redeploy = %+v, want exactly one upload", v2)
	}
	if r := s.get(host, "/"); !strings.Contains(r.Body, "Version two") {
		t.Fatalf("new deployment not live on the next request: %q", r.Body)
	}
	t.Run("preview of the old deployment", func(t *testing.T) {
		r := s.get(v1.Deployment+"--blog.localhost", "/")
		if r.Status != 200 || !strings.Contains(r.Body, "Hello from Pier") || r.Header.Get("X-Robots-Tag") != "noindex" {
			t.Errorf("preview = %d %q %v", r.Status, r.Body, r.Header)
		}
	})

	list := s.pier("deployments", "list", "--site", "blog")
	if !strings.Contains(list, v1.Deployment) || !strings.Contains(list, v2.Deployment) {
		t.Errorf("deployments list:\n%s", list)
	}
	s.pier("rollback", "--site", "blog", v1.Deployment)
	if r := s.get(host, "/"); !strings.Contains(r.Body, "Hello from Pier") {
		t.Fatalf("rollback not live: %q", r.Body)
	}

	s.restart()
	if r := s.get(host, "/"); r.Status != 200 || !strings.Contains(r.Body, "Hello from Pier") {
		t.Fatalf("after restart: %d %q", r.Status, r.Body)
	}
	if r := s.get(v2.Deployment+"--blog.localhost", "/"); !strings.Contains(r.Body, "Version two") {
		t.Fatalf("after restart, preview of v2: %q", r.Body)
	}
}

// TestFailedDeployKeepsLive: bad input is a clear error and loses nothing.
func TestFailedDeployKeepsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "shop", "--tenant", "acme")
	good := writeSite(t, map[string]string{"index.html": "live version"})
	s.deploy(good, "shop")

	cases := []struct {
		name  string
		files map[string]string
		want  []string // in the CLI's error output
	}{
		{"bad _redirects", map[string]string{"index.html": "broken", "_redirects": "/a /b 301\n/c\n"}, []string{"_redirects", "line 2"}},
		{"bad _headers", map[string]string{"index.html": "broken", "_headers": "X-Bad: before any path\n"}, []string{"_headers", "line 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errOut := s.pierFail("deploy", writeSite(t, tc.files), "--site", "shop")
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error output %q does not mention %q", errOut, w)
				}
			}
			if r := s.get("shop.localhost", "/"); r.Body != "live version" {
				t.Errorf("live site changed after a failed deploy: %q", r.Body)
			}
		})
	}
	t.Run("invalid worker", func(t *testing.T) {
		wasm := filepath.Join(t.TempDir(), "app.wasm")
		if err := os.WriteFile(wasm, []byte("\x7fELF not a module"), 0o644); err != nil {
			t.Fatal(err)
		}
		errOut := s.pierFail("deploy", writeSite(t, map[string]string{"index.html": "broken"}), "--site", "shop", "--worker", wasm)
		// What is wrong, said once.
		const want = "worker: invalid module: not a valid WebAssembly module (not a WebAssembly binary at offset 0) (worker_invalid)"
		if !strings.Contains(errOut, want) || strings.Count(errOut, "invalid module") != 1 {
			t.Errorf("error output %q, want %q", errOut, want)
		}
		if r := s.get("shop.localhost", "/"); r.Body != "live version" {
			t.Errorf("live site changed after a failed deploy: %q", r.Body)
		}
	})
	t.Run("file too large", func(t *testing.T) {
		s2 := startPier(t, "", []string{"--max-file-size", "1000"})
		s2.pier("tenants", "create", "acme")
		s2.pier("sites", "create", "shop", "--tenant", "acme")
		errOut := s2.pierFail("deploy", writeSite(t, map[string]string{"big.bin": strings.Repeat("x", 1001)}), "--site", "shop")
		if !strings.Contains(errOut, "/big.bin") || !strings.Contains(errOut, "1000") {
			t.Errorf("error %q does not name the path and the limit", errOut)
		}
	})
}

// TestConcurrentDeploys: both complete, the later activation wins, and the
// site never serves a mixture.
func TestConcurrentDeploys(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "race", "--tenant", "acme")
	var wg sync.WaitGroup
	ids := make([]string, 4)
	for i := range ids {
		dir := writeSite(t, map[string]string{"index.html": fmt.Sprintf("version %d", i), fmt.Sprintf("f%d.txt", i): "x"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = s.deploy(dir, "race").Deployment
		}()
	}
	wg.Wait()
	var site struct {
		ActiveDeployment string `json:"active_deployment"`
	}
	s.api("GET", "/api/v1/sites/race", s.Token, nil, &site)
	found := -1
	for i, id := range ids {
		if id == site.ActiveDeployment {
			found = i
		}
	}
	if found < 0 {
		t.Fatalf("active deployment %q is none of %v", site.ActiveDeployment, ids)
	}
	if r := s.get("race.localhost", "/"); r.Body != fmt.Sprintf("version %d", found) {
		t.Errorf("served %q, active is version %d", r.Body, found)
	}
}

// TestTenantIsolation: a tenant token cannot see another tenant's things.
func TestTenantIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "alpha")
	s.pier("tenants", "create", "beta")
	s.pier("sites", "create", "alpha-site", "--tenant", "alpha")
	var tok struct {
		Token string `json:"token"`
	}
	if code := s.api("POST", "/api/v1/tenants/beta/tokens", s.Token, map[string]string{"name": "ci"}, &tok); code != 201 || tok.Token == "" {
		t.Fatalf("create token = %d", code)
	}
	for _, path := range []string{"/api/v1/sites/alpha-site", "/api/v1/tenants/alpha", "/api/v1/sites/alpha-site/deployments"} {
		if code := s.api("GET", path, tok.Token, nil, nil); code != 404 {
			t.Errorf("beta GET %s = %d, want 404", path, code)
		}
	}
	if code := s.api("POST", "/api/v1/tenants", tok.Token, map[string]string{"name": "gamma"}, nil); code != 403 {
		t.Errorf("tenant token creating a tenant = %d, want 403", code)
	}
	// The tenant's own token deploys its own site through the CLI.
	s.api("POST", "/api/v1/sites", tok.Token, map[string]string{"name": "beta-site"}, nil)
	_, errOut, err := s.pierToken(tok.Token, "deploy", writeSite(t, map[string]string{"index.html": "beta"}), "--site", "alpha-site")
	if err == nil || !strings.Contains(strings.ToLower(errOut), "not found") {
		t.Errorf("beta deploying to alpha's site: err=%v %q", err, errOut)
	}
	if _, errOut, err := s.pierToken(tok.Token, "deploy", writeSite(t, map[string]string{"index.html": "beta"}), "--site", "beta-site"); err != nil {
		t.Fatalf("beta deploying its own site: %v %s", err, errOut)
	}
	if r := s.get("beta-site.localhost", "/"); r.Body != "beta" {
		t.Errorf("beta-site = %q", r.Body)
	}
}

func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
