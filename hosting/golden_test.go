package hosting

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/tenants"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGoldenResponses records complete responses (status, every header,
// body) of a representative site, so any change to what the edge sends is
// visible in review. Regenerate with: go test ./hosting -run Golden -update
func TestGoldenResponses(t *testing.T) {
	e := newEnv(t, Config{})
	files := map[string]testFile{
		"/index.html":      {body: "<h1>home</h1>", br: "BR(home)", gz: "GZ(home)"},
		"/about.html":      {body: "<h1>about</h1>"},
		"/docs/index.html": {body: "<h1>docs</h1>"},
		"/404.html":        {body: "<h1>not here</h1>"},
		"/assets/app.js":   {body: "let a = 1;", br: "BR(js)"},
		"/img/logo.png":    {body: "PNG", ctype: "image/png"},
	}
	cfg := tenants.DeploymentConfig{
		NotFoundHandling: tenants.NotFound404,
		Headers: "/*\n  X-Frame-Options: DENY\n" +
			"/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n" +
			"/pretty\n  X-Rewritten: yes\n",
		Redirects: "/old /about 301\n/pretty /about 200\n/go/* https://example.com/:splat 302\n",
	}
	e.site("site", "d1", files, cfg)
	e.deploy("site", "p1", files, tenants.DeploymentConfig{}, false)

	requests := []struct {
		method, target, host string
		hdr                  []string
	}{
		{"GET", "/", "site.pier.test", nil},
		{"GET", "/", "site.pier.test", []string{"Accept-Encoding", "gzip, deflate, br"}},
		{"HEAD", "/", "site.pier.test", []string{"Accept-Encoding", "gzip"}},
		{"GET", "/about", "site.pier.test", nil},
		{"GET", "/about.html?x=1", "site.pier.test", nil},
		{"GET", "/docs", "site.pier.test", nil},
		{"GET", "/assets/app.js", "site.pier.test", []string{"Accept-Encoding", "br"}},
		{"GET", "/assets/app.js", "site.pier.test", []string{"If-None-Match", `W/"zzz", "` + hashOf("let a = 1;") + `"`}},
		{"GET", "/img/logo.png", "site.pier.test", []string{"Range", "bytes=1-"}},
		{"GET", "/docs/missing", "site.pier.test", nil},
		{"GET", "/old?ref=mail", "site.pier.test", nil},
		{"GET", "/pretty", "site.pier.test", nil},
		{"GET", "/go/a/b?c=d", "site.pier.test", nil},
		{"POST", "/", "site.pier.test", nil},
		{"GET", "/", "p1--site.pier.test", nil},
		{"GET", "/", "unknown.pier.test", nil},
		{"GET", "/", "bad_host.pier.test", nil},
	}
	var out bytes.Buffer
	for _, rq := range requests {
		rec := e.do(rq.method, rq.target, rq.host, rq.hdr...)
		fmt.Fprintf(&out, "### %s %s Host: %s", rq.method, rq.target, rq.host)
		for i := 0; i+1 < len(rq.hdr); i += 2 {
			fmt.Fprintf(&out, " | %s: %s", rq.hdr[i], rq.hdr[i+1])
		}
		fmt.Fprintf(&out, "\n%d\n", rec.Code)
		for _, k := range slices.Sorted(mapKeys(rec.Header())) {
			fmt.Fprintf(&out, "%s: %s\n", k, strings.Join(rec.Header()[k], " | "))
		}
		fmt.Fprintf(&out, "\n%q\n\n", rec.Body.String())
	}
	golden := filepath.Join("testdata", "responses.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("responses differ from %s (run with -update and review the diff):\n%s", golden, out.String())
	}
}
