package hosting

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

const appJS = "console.log('hello world');"

var assetSite = map[string]testFile{
	"/index.html":  {body: "<h1>home</h1>", br: "BR-home", gz: "GZ-home!"},
	"/app.js":      {body: appJS, br: "BR-js", gz: "GZ-js"},
	"/only-gz.css": {body: "body{}", gz: "GZ-css"},
	"/logo.png":    {body: "\x89PNG0123456789", ctype: "image/png"},
}

func assetEnv(t *testing.T, cfg tenants.DeploymentConfig) *env {
	t.Helper()
	e := newEnv(t, Config{})
	e.site("site", "d1", assetSite, cfg)
	return e
}

func hashOf(body string) string { return assets.Hash(testSalt, []byte(body)) }

func TestAssetHeaders(t *testing.T) {
	t.Parallel()
	e := assetEnv(t, tenants.DeploymentConfig{})
	rec := e.get("/logo.png", "site.pier.test")
	want := map[string]string{
		"Content-Type":           "image/png",
		"Etag":                   `"` + hashOf("\x89PNG0123456789") + `"`,
		"Cache-Control":          "public, max-age=0, must-revalidate",
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         "14",
	}
	if rec.Code != 200 || rec.Body.String() != "\x89PNG0123456789" {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"Vary", "Content-Encoding", "X-Robots-Tag"} {
		if v, ok := rec.Header()[k]; ok {
			t.Errorf("unexpected %s: %q", k, v)
		}
	}
}

func TestContentEncoding(t *testing.T) {
	t.Parallel()
	e := assetEnv(t, tenants.DeploymentConfig{})
	h := hashOf(appJS)
	tests := []struct {
		name, path, accept string
		body, encoding     string
		etag               string
	}{
		{"no header", "/app.js", "", appJS, "", `"` + h + `"`},
		{"browser", "/app.js", "gzip, deflate, br, zstd", "BR-js", "br", `"` + h + `-br"`},
		{"gzip only", "/app.js", "gzip", "GZ-js", "gzip", `"` + h + `-gz"`},
		{"x-gzip", "/app.js", "x-gzip", "GZ-js", "gzip", `"` + h + `-gz"`},
		{"br disabled", "/app.js", "gzip, br;q=0", "GZ-js", "gzip", `"` + h + `-gz"`},
		{"br q=0.000", "/app.js", "br;q=0.000, gzip;q=0.1", "GZ-js", "gzip", `"` + h + `-gz"`},
		{"q ranks gzip first", "/app.js", "br;q=0.5, gzip;q=0.8", "GZ-js", "gzip", `"` + h + `-gz"`},
		{"tie prefers br", "/app.js", "gzip;q=0.8, br;q=0.8", "BR-js", "br", `"` + h + `-br"`},
		{"uppercase", "/app.js", "GZIP, BR", "BR-js", "br", `"` + h + `-br"`},
		{"spaces", "/app.js", " br ; q=1.0 ", "BR-js", "br", `"` + h + `-br"`},
		{"star", "/app.js", "*", "BR-js", "br", `"` + h + `-br"`},
		{"star but br off", "/app.js", "*, br;q=0", "GZ-js", "gzip", `"` + h + `-gz"`},
		{"identity preferred", "/app.js", "identity, gzip;q=0.5", appJS, "", `"` + h + `"`},
		{"all disabled", "/app.js", "br;q=0, gzip;q=0", appJS, "", `"` + h + `"`},
		{"malformed q ignored", "/app.js", "br;q=2, gzip", "GZ-js", "gzip", `"` + h + `-gz"`},
		{"unknown coding", "/app.js", "zstd", appJS, "", `"` + h + `"`},
		{"only gzip variant", "/only-gz.css", "br, gzip", "GZ-css", "gzip", `"` + hashOf("body{}") + `-gz"`},
		{"only gzip variant, br asked", "/only-gz.css", "br", "body{}", "", `"` + hashOf("body{}") + `"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec = e.get(tc.path, "site.pier.test")
			if tc.accept != "" {
				rec = e.get(tc.path, "site.pier.test", "Accept-Encoding", tc.accept)
			}
			if rec.Code != 200 || rec.Body.String() != tc.body {
				t.Fatalf("%d %q, want 200 %q", rec.Code, rec.Body.String(), tc.body)
			}
			if got := rec.Header().Get("Content-Encoding"); got != tc.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tc.encoding)
			}
			if got := rec.Header().Get("Etag"); got != tc.etag {
				t.Errorf("ETag %s, want %s", got, tc.etag)
			}
			if got := rec.Header().Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary %q, want Accept-Encoding", got)
			}
			if got, want := rec.Header().Get("Content-Length"), len(tc.body); got != strconv.Itoa(want) {
				t.Errorf("Content-Length %s, want %d", got, want)
			}
		})
	}
	t.Run("multiple field lines", func(t *testing.T) {
		rec := e.get("/app.js", "site.pier.test", "Accept-Encoding", "gzip", "Accept-Encoding", "br")
		if rec.Header().Get("Content-Encoding") != "br" {
			t.Fatalf("Content-Encoding %q", rec.Header().Get("Content-Encoding"))
		}
	})
}

func TestConditional(t *testing.T) {
	t.Parallel()
	e := assetEnv(t, tenants.DeploymentConfig{})
	h := hashOf(appJS)
	tests := []struct {
		name, inm, accept string
		status            int
	}{
		{"match", `"` + h + `"`, "", 304},
		{"weak match", `W/"` + h + `"`, "", 304},
		{"list", `"nope", "` + h + `"`, "", 304},
		{"list without spaces", `"nope","` + h + `"`, "", 304},
		{"star", `*`, "", 304},
		{"other tag", `"nope"`, "", 200},
		{"identity tag, br served", `"` + h + `"`, "br", 200},
		{"br tag, br served", `"` + h + `-br"`, "br", 304},
		{"malformed", `nope, "` + h + `"`, "", 304},
		{"unterminated", `"` + h, "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"If-None-Match", tc.inm}
			if tc.accept != "" {
				hdr = append(hdr, "Accept-Encoding", tc.accept)
			}
			rec := e.get("/app.js", "site.pier.test", hdr...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status == 304 {
				if rec.Body.Len() != 0 {
					t.Errorf("304 with body %q", rec.Body.String())
				}
				if rec.Header().Get("Etag") == "" || rec.Header().Get("Vary") != "Accept-Encoding" || rec.Header().Get("Cache-Control") == "" {
					t.Errorf("304 lacks ETag/Vary/Cache-Control: %v", rec.Header())
				}
				if rec.Header().Get("Content-Type") != "" || rec.Header().Get("Content-Length") != "" {
					t.Errorf("304 carries entity headers: %v", rec.Header())
				}
			}
		})
	}
	t.Run("304 reads no blob", func(t *testing.T) {
		before := e.blobs.calls.Load()
		e.get("/app.js", "site.pier.test", "If-None-Match", `"`+h+`"`)
		if e.blobs.calls.Load() != before {
			t.Fatal("a 304 read the blob")
		}
	})
}

func TestRange(t *testing.T) {
	t.Parallel()
	e := assetEnv(t, tenants.DeploymentConfig{})
	h := hashOf(appJS)
	tests := []struct {
		name, rng, ifRange string
		status             int
		body, contentRange string
	}{
		{"first bytes", "bytes=0-6", "", 206, "console", "bytes 0-6/27"},
		{"suffix", "bytes=-6", "", 206, "rld');", "bytes 21-26/27"},
		{"open end", "bytes=19-", "", 206, "world');", "bytes 19-26/27"},
		{"unsatisfiable", "bytes=100-200", "", 416, "", "bytes */27"},
		{"if-range match", "bytes=0-6", `"` + h + `"`, 206, "console", "bytes 0-6/27"},
		{"if-range stale", "bytes=0-6", `"old"`, 200, appJS, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Range", tc.rng}
			if tc.ifRange != "" {
				hdr = append(hdr, "If-Range", tc.ifRange)
			}
			rec := e.get("/app.js", "site.pier.test", hdr...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%q)", rec.Code, tc.status, rec.Body.String())
			}
			if tc.status != 416 && rec.Body.String() != tc.body {
				t.Errorf("body %q, want %q", rec.Body.String(), tc.body)
			}
			if got := rec.Header().Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
			}
		})
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	e := assetEnv(t, tenants.DeploymentConfig{})
	rec := e.do(http.MethodHead, "/app.js", "site.pier.test", "Accept-Encoding", "br")
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("%d with %d body bytes", rec.Code, rec.Body.Len())
	}
	if rec.Header().Get("Content-Length") != "5" || rec.Header().Get("Content-Encoding") != "br" {
		t.Fatalf("headers %v", rec.Header())
	}
}

func TestRuleFilesAreNotServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", map[string]testFile{
		"/_headers":   {body: "/*\n  X-A: b\n"},
		"/_redirects": {body: "/a /b\n"},
		"/index.html": {body: "home"},
	}, tenants.DeploymentConfig{})
	for _, p := range []string{"/_headers", "/_redirects"} {
		if rec := e.get(p, "site.pier.test"); rec.Code != 404 {
			t.Errorf("%s: %d %q", p, rec.Code, rec.Body.String())
		}
	}
}

func TestRequestPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", map[string]testFile{
		"/a b.html":   {body: "space"},
		"/café.html":  {body: "cafe"},
		"/[x].txt":    {body: "brackets"},
		"/dir/f.txt":  {body: "f"},
		"/index.html": {body: "home"},
		"/a%20b.txt":  {body: "literal percent"},
	}, tenants.DeploymentConfig{})
	tests := []struct {
		name, target string
		status       int
		body, to     string
	}{
		{"encoded space", "/a%20b", 200, "space", ""},
		{"utf-8", "/caf%C3%A9", 200, "cafe", ""},
		{"brackets redirect to canonical", "/[x].txt", 307, "", "/%5Bx%5D.txt"},
		{"canonical brackets", "/%5Bx%5D.txt", 200, "brackets", ""},
		{"needlessly encoded letter", "/dir/%66.txt?q=1", 307, "", "/dir/f.txt?q=1"},
		{"double slash", "//dir//f.txt", 307, "", "/dir/f.txt"},
		{"literal percent in name", "/a%2520b.txt", 200, "literal percent", ""},
		{"dot dot", "/dir/../index.html", 400, "", ""},
		{"encoded dot dot", "/dir/%2e%2e/index.html", 400, "", ""},
		{"dot", "/./index.html", 400, "", ""},
		{"nul", "/index%00.html", 400, "", ""},
		{"control", "/index%0a.html", 400, "", ""},
		{"dots in name are fine", "/dir/..f.txt", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.get(tc.target, "site.pier.test")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%q %q)", rec.Code, tc.status, rec.Header().Get("Location"), rec.Body.String())
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("body %q, want %q", rec.Body.String(), tc.body)
			}
			if tc.to != "" && rec.Header().Get("Location") != tc.to {
				t.Errorf("Location %q, want %q", rec.Header().Get("Location"), tc.to)
			}
		})
	}
}

func TestRedirectsFile(t *testing.T) {
	t.Parallel()
	rules := strings.Join([]string{
		"/old /new 301",
		"/temp /new",
		"/see /new 303",
		"/perm /new 308",
		"/ext https://example.com/x 302",
		"/keep-own-query /new?a=1 301",
		"/blog/:year/:slug /posts/:year-:slug 301",
		"/docs/* /v2/:splat 301",
		"/app/* /shell.html 200",
		"/pretty /about 200",
		"/gone /missing.html 200",
		"/index.html /loop 301",
	}, "\n")
	e := newEnv(t, Config{})
	e.site("site", "d1", map[string]testFile{
		"/index.html": {body: "home"},
		"/about.html": {body: "about"},
		"/new.html":   {body: "new"},
		"/shell.html": {body: "shell"},
	}, tenants.DeploymentConfig{Redirects: rules, NotFoundHandling: tenants.NotFoundNone})
	tests := []struct {
		name, target string
		status       int
		to, body     string
	}{
		{"static 301", "/old", 301, "/new", ""},
		{"default 302", "/temp", 302, "/new", ""},
		{"303", "/see", 303, "/new", ""},
		{"308", "/perm", 308, "/new", ""},
		{"query kept", "/old?utm=x&y=1", 301, "/new?utm=x&y=1", ""},
		{"own query wins", "/keep-own-query?b=2", 301, "/new?a=1", ""},
		{"external", "/ext", 302, "https://example.com/x", ""},
		{"placeholders", "/blog/2024/hello", 301, "/posts/2024-hello", ""},
		{"splat", "/docs/a/b/c", 301, "/v2/a/b/c", ""},
		{"splat keeps query", "/docs/a?x=1", 301, "/v2/a?x=1", ""},
		{"rewrite", "/app/some/route?x=1", 200, "", "shell"},
		{"rewrite through html handling", "/pretty", 200, "", "about"},
		{"rewrite to missing", "/gone", 404, "", "not found (not_found)\n"},
		{"redirects run before assets", "/index.html", 301, "/loop", ""},
		{"no rule", "/new", 200, "", "new"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.get(tc.target, "site.pier.test")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (Location %q)", rec.Code, tc.status, rec.Header().Get("Location"))
			}
			if got := rec.Header().Get("Location"); got != tc.to {
				t.Errorf("Location %q, want %q", got, tc.to)
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("body %q, want %q", rec.Body.String(), tc.body)
			}
		})
	}
}

func TestHeadersFile(t *testing.T) {
	t.Parallel()
	rules := strings.Join([]string{
		"/*",
		"  X-Frame-Options: DENY",
		"  X-Multi: one",
		"/assets/*",
		"  Cache-Control: public, max-age=31536000, immutable",
		"  X-Multi: two",
		"/nosniff-off",
		"  ! X-Content-Type-Options",
		"/assets/secret.js",
		"  ! X-Frame-Options",
		"/vary.js",
		"  Vary: Origin",
		"/blog/:slug",
		"  X-Slug: :slug",
	}, "\n")
	e := newEnv(t, Config{})
	e.site("site", "d1", map[string]testFile{
		"/index.html":       {body: "home"},
		"/assets/app.js":    {body: "app"},
		"/assets/secret.js": {body: "s"},
		"/nosniff-off.html": {body: "x"},
		"/vary.js":          {body: "v", br: "V"},
		"/blog/post.html":   {body: "post"},
	}, tenants.DeploymentConfig{Headers: rules, NotFoundHandling: tenants.NotFoundSPA})
	tests := []struct {
		name, path string
		want       map[string]string // "" = absent
	}{
		{"applies to all", "/", map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "public, max-age=0, must-revalidate", "X-Multi": "one"}},
		{"override cache-control and merge", "/assets/app.js", map[string]string{"Cache-Control": "public, max-age=31536000, immutable", "X-Multi": "one, two", "X-Frame-Options": "DENY"}},
		{"remove", "/assets/secret.js", map[string]string{"X-Frame-Options": "", "X-Multi": "one, two"}},
		{"remove default", "/nosniff-off", map[string]string{"X-Content-Type-Options": ""}},
		{"vary kept with accept-encoding", "/vary.js", map[string]string{"Vary": "Origin, Accept-Encoding"}},
		{"placeholder", "/blog/post", map[string]string{"X-Slug": "post"}},
		{"spa fallback path", "/client/route", map[string]string{"X-Frame-Options": "DENY", "X-Multi": "one"}},
		{"not found", "/missing.js", map[string]string{"X-Frame-Options": "DENY"}},
		{"html redirect", "/index.html", map[string]string{"X-Frame-Options": "DENY"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.get(tc.path, "site.pier.test")
			if rec.Code >= 500 {
				t.Fatalf("status %d", rec.Code)
			}
			for k, v := range tc.want {
				got, present := rec.Header()[k]
				if v == "" {
					if present {
						t.Errorf("%s present (%q), want absent", k, got)
					}
					continue
				}
				if strings.Join(got, ", ") != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if rec.Code == 200 && rec.Header().Get("Etag") == "" {
				t.Error("ETag missing")
			}
		})
	}
}

func TestBlobErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"unavailable", assets.ErrUnavailable, 503},
		{"missing blob", assets.ErrNotFound, 502},
		{"other", errors.New("s3: secret-bucket access denied"), 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := assetEnv(t, tenants.DeploymentConfig{})
			e.blobs.setFail(tc.err)
			rec := e.get("/app.js", "site.pier.test", "Accept-Encoding", "br")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if strings.Contains(rec.Body.String(), "secret") || rec.Header().Get("Etag") != "" || rec.Header().Get("Content-Encoding") != "" {
				t.Fatalf("error response leaks: %v %q", rec.Header(), rec.Body.String())
			}
		})
	}
	t.Run("size mismatch", func(t *testing.T) {
		e := assetEnv(t, tenants.DeploymentConfig{})
		e.blobs.mu.Lock()
		e.blobs.data[assets.Key(testTenant, hashOf(appJS), "")] = []byte("short")
		e.blobs.mu.Unlock()
		if rec := e.get("/app.js", "site.pier.test"); rec.Code != 502 {
			t.Fatalf("status %d, want 502", rec.Code)
		}
	})
}

func TestTenantsDoNotShareLoadedDeployments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("mine", "d1", helloSite, tenants.DeploymentConfig{})
	e.reg.addTenant("other")
	e.reg.addSite("other", "s-theirs", "theirs")
	e.reg.deploy("theirs", tenants.Deployment{ID: "d2", Manifest: e.blobs.manifest("other", helloSite)}, true)
	for _, h := range []string{"mine.pier.test", "theirs.pier.test"} {
		if rec := e.get("/", h); rec.Code != 200 {
			t.Fatalf("%s: %d", h, rec.Code)
		}
	}
	if n := e.edge.deps.len(); n != 2 {
		t.Fatalf("%d loaded deployments, want one per tenant", n)
	}
	// Removing the other tenant's blob breaks only the other tenant's site.
	e.blobs.mu.Lock()
	delete(e.blobs.data, assets.Key("other", hashOf("hello"), ""))
	e.blobs.mu.Unlock()
	if rec := e.get("/", "mine.pier.test"); rec.Code != 200 {
		t.Fatalf("mine: %d", rec.Code)
	}
	if rec := e.get("/", "theirs.pier.test"); rec.Code != 502 {
		t.Fatalf("theirs: %d, want 502 (its own blob is gone)", rec.Code)
	}
}

func TestPreviewNoindexWins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", map[string]testFile{"/index.html": {body: "home"}}, tenants.DeploymentConfig{
		Headers:   "/*\n  X-Robots-Tag: all\n",
		Redirects: "/old / 301\n",
	})
	for _, path := range []string{"/", "/index.html", "/old", "/missing", "/x.js"} {
		t.Run(path, func(t *testing.T) {
			rec := e.get(path, "d1--site.pier.test")
			if got := rec.Header()["X-Robots-Tag"]; len(got) != 1 || got[0] != "noindex" {
				t.Fatalf("preview %s: X-Robots-Tag %q, want noindex", path, got)
			}
			rec = e.get(path, "site.pier.test")
			if got := rec.Header().Get("X-Robots-Tag"); got != "all" {
				t.Fatalf("production %s: X-Robots-Tag %q, want the site's own", path, got)
			}
		})
	}
}

func TestAbsoluteFormTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", helloSite, tenants.DeploymentConfig{})
	r := httptest.NewRequest(http.MethodGet, "http://site.pier.test", nil)
	w := httptest.NewRecorder()
	e.edge.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "hello" {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}
