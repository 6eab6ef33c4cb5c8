package hosting

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/tenants"
)

// cfFiles is the directory of Cloudflare's html_handling documentation
// (dist/file.html, dist/folder/index.html) plus a root index.
var cfFiles = map[string]testFile{
	"/file.html":         {body: "<p>file</p>"},
	"/folder/index.html": {body: "<p>folder</p>"},
	"/index.html":        {body: "<p>home</p>"},
}

// want is an expected response: 200 with a body, a 307 Location, or 404.
type want struct {
	status int
	body   string // for 200/404 with a page
	to     string // Location for 307
}

func ok(body string) want      { return want{status: http.StatusOK, body: body} }
func moved(to string) want     { return want{status: http.StatusTemporaryRedirect, to: to} }
func missing(body string) want { return want{status: http.StatusNotFound, body: body} }

func check(t *testing.T, e *env, path string, w want) {
	t.Helper()
	rec := e.get(path, "site.pier.test")
	if rec.Code != w.status {
		t.Fatalf("GET %s: status %d, want %d (Location %q, body %q)", path, rec.Code, w.status, rec.Header().Get("Location"), rec.Body.String())
	}
	switch {
	case w.status == http.StatusTemporaryRedirect:
		if got := rec.Header().Get("Location"); got != w.to {
			t.Errorf("GET %s: Location %q, want %q", path, got, w.to)
		}
	case w.body != "":
		if got := rec.Body.String(); got != w.body {
			t.Errorf("GET %s: body %q, want %q", path, got, w.body)
		}
	}
}

// TestHTMLHandling checks every mode against the tables of Cloudflare's
// "HTML handling" documentation (developers.cloudflare.com/workers/
// static-assets/routing/advanced/html-handling), plus the root.
func TestHTMLHandling(t *testing.T) {
	t.Parallel()
	const file, folder, home = "<p>file</p>", "<p>folder</p>", "<p>home</p>"
	notFound := missing("not found (not_found)\n")
	modes := map[string]map[string]want{
		tenants.HTMLAutoTrailingSlash: {
			"/file":              ok(file),
			"/file.html":         moved("/file"),
			"/file/":             moved("/file"),
			"/file/index":        moved("/file"),
			"/file/index.html":   moved("/file"),
			"/folder":            moved("/folder/"),
			"/folder.html":       moved("/folder/"),
			"/folder/":           ok(folder),
			"/folder/index":      moved("/folder/"),
			"/folder/index.html": moved("/folder/"),
			"/":                  ok(home),
			"/index":             moved("/"),
			"/index.html":        moved("/"),
			"/nope":              notFound,
		},
		tenants.HTMLForceTrailingSlash: {
			"/file":              moved("/file/"),
			"/file.html":         moved("/file/"),
			"/file/":             ok(file),
			"/file/index":        moved("/file/"),
			"/file/index.html":   moved("/file/"),
			"/folder":            moved("/folder/"),
			"/folder.html":       moved("/folder/"),
			"/folder/":           ok(folder),
			"/folder/index":      moved("/folder/"),
			"/folder/index.html": moved("/folder/"),
			"/":                  ok(home),
			"/index.html":        moved("/"),
			"/nope":              notFound,
		},
		tenants.HTMLDropTrailingSlash: {
			"/file":              ok(file),
			"/file.html":         moved("/file"),
			"/file/":             moved("/file"),
			"/file/index":        moved("/file"),
			"/file/index.html":   moved("/file"),
			"/folder":            ok(folder),
			"/folder.html":       moved("/folder"),
			"/folder/":           moved("/folder"),
			"/folder/index":      moved("/folder"),
			"/folder/index.html": moved("/folder"),
			"/":                  ok(home),
			"/index":             moved("/"),
			"/index.html":        moved("/"),
			"/nope":              notFound,
		},
		tenants.HTMLNone: {
			"/file":              notFound,
			"/file.html":         ok(file),
			"/file/":             notFound,
			"/file/index":        notFound,
			"/file/index.html":   notFound,
			"/folder":            notFound,
			"/folder.html":       notFound,
			"/folder/":           notFound,
			"/folder/index":      notFound,
			"/folder/index.html": ok(folder),
			"/":                  notFound,
			"/index.html":        ok(home),
		},
	}
	for _, mode := range slices.Sorted(mapKeys(modes)) {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, Config{})
			e.site("site", "d1", cfFiles, tenants.DeploymentConfig{HTMLHandling: mode})
			cases := modes[mode]
			for _, path := range slices.Sorted(mapKeys(cases)) {
				t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
					check(t, e, path, cases[path])
				})
			}
		})
	}
}

func TestHTMLHandlingKeepsQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", cfFiles, tenants.DeploymentConfig{})
	for _, tc := range []struct{ name, path, to string }{
		{"html-extension", "/file.html?a=1&b=2", "/file?a=1&b=2"},
		{"folder", "/folder?x=%20y", "/folder/?x=%20y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, e, tc.path, moved(tc.to))
		})
	}
}

func TestNotFoundHandling(t *testing.T) {
	t.Parallel()
	files := map[string]testFile{
		"/index.html":       {body: "spa"},
		"/404.html":         {body: "root 404"},
		"/docs/404.html":    {body: "docs 404"},
		"/docs/a/page.html": {body: "page"},
		"/app.js":           {body: "js"},
	}
	tests := []struct {
		mode  string
		cases map[string]want
	}{
		{tenants.NotFoundNone, map[string]want{
			"/missing":     missing("not found (not_found)\n"),
			"/docs/a/nope": missing("not found (not_found)\n"),
			"/app.3f2a.js": missing("not found (not_found)\n"),
			"/docs/a/page": ok("page"),
		}},
		{tenants.NotFound404, map[string]want{
			"/missing":         missing("root 404"),
			"/docs/x":          missing("docs 404"),
			"/docs/a/b/c/d":    missing("docs 404"),
			"/docs/":           ok("page"), // placeholder, replaced below
			"/other/deep/path": missing("root 404"),
			"/app.3f2a.js":     missing("root 404"),
		}},
		{tenants.NotFoundSPA, map[string]want{
			"/missing":           ok("spa"),
			"/some/client/route": ok("spa"),
			"/route.html":        ok("spa"),
			"/app.3f2a.js":       missing("not found (not_found)\n"),
			"/img/logo.png":      missing("not found (not_found)\n"),
			"/v1.2/":             ok("spa"),
			"/app.js":            ok("js"),
		}},
	}
	// /docs/ has no index: with 404-page it gets the docs 404.
	tests[1].cases["/docs/"] = missing("docs 404")
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			e := newEnv(t, Config{})
			e.site("site", "d1", files, tenants.DeploymentConfig{NotFoundHandling: tc.mode})
			for _, path := range slices.Sorted(mapKeys(tc.cases)) {
				t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
					check(t, e, path, tc.cases[path])
				})
			}
		})
	}
}

func TestNotFoundPageHasNoValidators(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", map[string]testFile{"/404.html": {body: "gone"}}, tenants.DeploymentConfig{NotFoundHandling: tenants.NotFound404})
	rec := e.get("/x", "site.pier.test", "If-None-Match", "*", "Range", "bytes=0-1")
	if rec.Code != http.StatusNotFound || rec.Body.String() != "gone" {
		t.Fatalf("got %d %q, want 404 with the full page", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("Etag") != "" {
		t.Errorf("404 page carries ETag %q", rec.Header().Get("Etag"))
	}
}

// TestTableMatchesResolver checks that the precomputed table plus the
// request-time fallback answer exactly what the reference resolver
// answers, for every mode and many paths (the table's candidate set must
// be complete).
func TestTableMatchesResolver(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	segs := []string{"a", "b", "index", "index.html", "a.html", "b.html", "404.html", "x.js", ""}
	paths := map[string]bool{"/": true}
	for range 3000 {
		n := 1 + rnd.IntN(3)
		var b strings.Builder
		for range n {
			b.WriteString("/")
			b.WriteString(segs[rnd.IntN(len(segs))])
		}
		paths[b.String()] = true
	}
	var files []string
	for p := range paths {
		if p != "/" && !strings.HasSuffix(p, "/") && !strings.Contains(p, "//") && rnd.IntN(8) == 0 {
			files = append(files, p)
		}
	}
	files = append(files, "/index.html", "/a.html", "/a/index.html", "/b/index.html", "/b.html")
	for _, html := range []string{tenants.HTMLAutoTrailingSlash, tenants.HTMLForceTrailingSlash, tenants.HTMLDropTrailingSlash, tenants.HTMLNone} {
		for _, nf := range []string{tenants.NotFoundNone, tenants.NotFound404, tenants.NotFoundSPA} {
			t.Run(html+"/"+nf, func(t *testing.T) {
				tf := map[string]testFile{}
				for i, p := range files {
					// Some files share content, as real sites do.
					tf[p] = testFile{body: fmt.Sprint("content ", i%7)}
				}
				blobs := newFakeBlobs()
				d := tenants.Deployment{ID: "d", Manifest: blobs.manifest("t", tf), Config: tenants.DeploymentConfig{HTMLHandling: html, NotFoundHandling: nf}}
				dep, rs, err := compileWith("t", &d, digestDeployment("t", &d))
				if err != nil {
					t.Fatal(err)
				}
				for p := range paths {
					if strings.Contains(p, "//") {
						continue
					}
					want := rs.resolve(p, false)
					got := tableResolve(dep, p)
					if got.file != want.file || got.redirect != want.redirect || got.status != want.status && !want.none() {
						t.Errorf("%s: table gives %s, resolver %s", p, describe(got), describe(want))
					}
				}
			})
		}
	}
}

// tableResolve answers like Edge.serve does, from the table and the
// request-time deployment.fallback.
func tableResolve(d *deployment, p string) intent {
	if t := d.table[p]; t != nil {
		if t.file == nil {
			return intent{redirect: t.dest}
		}
		return intent{file: t.file, status: http.StatusOK}
	}
	if f, status := d.fallback(p, false); f != nil {
		return intent{file: f, status: status}
	}
	return intent{}
}

func describe(it intent) string {
	switch {
	case it.redirect != "":
		return "redirect " + it.redirect
	case it.file != nil:
		return fmt.Sprintf("%d %s", it.status, it.file.path)
	}
	return "none"
}

func mapKeys[M ~map[K]V, K comparable, V any](m M) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSPANavigation: a browser navigation gets the SPA's index even when
// its path has a dot (/users/john.doe); a script or image fetch of a
// missing asset still gets a 404.
func TestSPANavigation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.site("site", "d1", map[string]testFile{"/index.html": {body: "spa"}}, tenants.DeploymentConfig{NotFoundHandling: tenants.NotFoundSPA})
	tests := []struct {
		name, path, mode string
		status           int
	}{
		{"navigation to a path with a dot", "/users/john.doe", "navigate", 200},
		{"navigation to a .js path", "/app.3f2a.js", "navigate", 200},
		{"script fetch of a missing asset", "/app.3f2a.js", "no-cors", 404},
		{"fetch without the header", "/users/john.doe", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.mode != "" {
				hdr = []string{"Sec-Fetch-Mode", tc.mode}
			}
			r := e.get(tc.path, "site.pier.test", hdr...)
			if r.Code != tc.status {
				t.Fatalf("GET %s (Sec-Fetch-Mode %q) = %d %q, want %d", tc.path, tc.mode, r.Code, r.Body.String(), tc.status)
			}
			if tc.status == 200 && r.Body.String() != "spa" {
				t.Fatalf("body %q, want the SPA index", r.Body.String())
			}
		})
	}
}
