package siterules

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestParseRedirectsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		line int
		msg  string // substring of the message
	}{
		{"missing destination", "/a /b\n/c\n", 2, "missing destination"},
		{"too many fields", "/a /b 301 Country=fr\n", 1, "too many fields"},
		{"invalid status", "# c\n\n/a /b 404\n", 3, `invalid status "404"`},
		{"status not a number", "/a /b moved\n", 1, `invalid status "moved"`},
		{"forced rule", "/a /b 200!\n", 1, "forced rules"},
		{"source without slash", "a /b\n", 1, "must start with /"},
		{"full URL source", "https://example.com/a /b\n", 1, "is a URL"},
		{"source with query", "/a?x=1 /b\n", 1, "query string"},
		{"relative destination", "/a b\n", 1, "must be a path starting with /"},
		{"protocol-relative destination", "/a //evil.example/b\n", 1, "single /"},
		{"destination without host", "/a https:///b\n", 1, "has no host"},
		{"ftp destination", "/a ftp://example.com/\n", 1, "must be a path starting with /"},
		{"proxy rewrite", "/api/* https://api.example.com/:splat 200\n", 1, "200 rewrite must have a site-relative destination"},
		{"two splats", "/a/*/b/* /c\n", 1, "at most one *"},
		{"splat without star", "/a/:x /b/:splat\n", 1, "source has no *"},
		{"bad percent-encoding", "/a%zz /c\n", 1, "invalid percent-encoding"},
		{"encoded splat", "/a/%2A /c\n", 1, "percent-encoded * or :"},
		{"encoded duplicate", "/caf%C3%A9 /c\n/café /d\n", 2, "duplicate rule"},
		{"placeholder and splat in a segment", "/a/:x* /c\n", 1, "cannot share a path segment"},
		{"two placeholders in a segment", "/a/:x-:y /c\n", 1, "at most one :placeholder"},
		{"placeholder named splat", "/a/:splat /c\n", 1, ":splat is the value of *"},
		{"placeholder used twice", "/:a/:a /c\n", 1, "used twice"},
		{"too many placeholders", "/:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p/* /x\n", 1, "too many placeholders"},
		{"duplicate source", "/a /b\n/c /d\n/a /e\n", 3, "duplicate rule for \"/a\" (first on line 1)"},
		{"control character", "/a /b\x01c\n", 1, "control character"},
		{"line too long", "/a /b\n/c /" + strings.Repeat("x", MaxLineLength) + "\n", 2, "longer than 2000 bytes"},
		{"self redirect", "/a /a 301\n", 1, "redirect loop: /a → /a"},
		{"self redirect with dot segments", "/a/b /a/./c/../b/ 301\n/a/b/ /a/b 301\n", 2, "redirect loop: /a/b → /a/b/ → /a/b"},
		{"self redirect with query", "/a /a?x=1\n", 1, "redirect loop"},
		{"two-rule loop", "/a /b\n/b /a\n", 2, "redirect loop: /a → /b → /a"},
		{"loop blamed on the looping rule", "/x /generic\n/y /z\n/* /generic 301\n", 3, "redirect loop: /x → /generic → /generic"},
		{"splat self redirect", "/blog/* /blog/:splat 301\n", 1, "redirect loop"},
		{"placeholder self redirect", "/u/:id /u/:id 308\n", 1, "redirect loop"},
		{"growing chain", "/blog/* /blog/new/:splat\n", 1, "redirect chain does not end: /blog/x → /blog/new/x → … → /blog/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/x → /blog/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/new/x (more than 20 redirects)"},
		{"wildcard to index", "/* /index.html 200\n", 1, "single-page-application"},
		{"directory to index", "/docs/ /docs/index 301\n", 1, "rule would loop"},
		{"static limit", staticRules(MaxStaticRedirects + 1), MaxStaticRedirects + 1, "too many static redirects (limit 2000)"},
		{"dynamic limit", dynamicRules(MaxDynamicRedirects + 1), MaxDynamicRedirects + 1, "too many dynamic redirects with * or :placeholder (limit 100)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRedirects(tt.text)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseRedirects() = %v, %v; want a *ParseError", r, err)
			}
			if pe.File != "_redirects" || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("error = %q (file %q, line %d); want line %d containing %q", pe.Msg, pe.File, pe.Line, tt.line, tt.msg)
			}
			if want := fmt.Sprintf("_redirects line %d: %s", pe.Line, pe.Msg); err.Error() != want {
				t.Errorf("Error() = %q; want %q", err.Error(), want)
			}
		})
	}
}

func staticRules(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "/old/%d /new/%d 301\n", i, i)
	}
	return b.String()
}

func dynamicRules(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "/d%d/* /new/%d/:splat 301\n", i, i)
	}
	return b.String()
}

func TestParseRedirectsAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		len  int
	}{
		{"empty", "", 0},
		{"comments and blank lines", "# comment\n\n   \n\t# indented comment\n", 0},
		{"inline comment", "/a /b 301 # moved in 2024\n/c /d # no status\n", 2},
		{"CRLF and BOM", "\ufeff/a /b\r\n/c /d 301\r\n", 2},
		{"tabs", "/a\t\t/b\t308\n", 1},
		{"unknown placeholder like splat", "/a/:x /b/:splatter/:x\n", 1},
		{"limits reached", staticRules(MaxStaticRedirects) + dynamicRules(MaxDynamicRedirects), MaxStaticRedirects + MaxDynamicRedirects},
		{"line at the limit", "/a /" + strings.Repeat("x", MaxLineLength-4) + "\n", 1},
		{"indented line at the limit", "    /a /" + strings.Repeat("x", MaxLineLength-4) + "  \n", 1},
		{"long comment", "# " + strings.Repeat("x", MaxLineLength) + "\n/a /b\n", 1},
		{"redirect to the other slash form", "/a /a/ 301\n/b/ /b 301\n", 2},
		{"rewrite to itself", "/a /a 200\n", 1},
		{"root rewrite", "/* / 200\n", 1},
		{"ending chain", "/a /b\n/b /c\n/c /d\n", 3},
		{"loop broken by an earlier rule", "/blog/new/* /archive/:splat\n/blog/* /blog/new/:splat\n", 2},
		{"fragment in source ignored", "/a#top /b\n", 1},
		{"external to same path", "/a https://example.com/a 301\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRedirects(tt.text)
			if err != nil {
				t.Fatalf("ParseRedirects() error = %v", err)
			}
			if r.Len() != tt.len {
				t.Errorf("Len() = %d; want %d", r.Len(), tt.len)
			}
		})
	}
}

func TestRedirectsMatch(t *testing.T) {
	t.Parallel()
	const rules = `
/home /            301
/old  /new
/see  /other       303
/tmp  /temporary   307
/perm /permanent   308
/ext  https://example.com/x?ref=pier 301
/frag /page#section
/qs   /page?a=1&b=2
/shop/:id       /store/:id          301
/news/:y/:m/:d  /blog/:y-:m-:d.html 301
/post-:id.html  /posts/:id          301
/blog/*         /news/:splat        301
/files/*.pdf    /docs/:splat.pdf
/app/*          /app.html           200
/u/:name/*      https://:name.example.com/:splat 302
/port           https://example.com:8443/x
/keep           /a/:unknown
/first          /static-wins
/team/john%20smith /team/about-john%20smith 301
/caf%C3%A9/*    /coffee/:splat
/search/:term   /find?q=:term#:term
`
	r, err := ParseRedirects(rules)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		query  string
		status int
		to     string
	}{
		{"static", "/old", "", 302, "/new"},
		{"static 301", "/home", "", 301, "/"},
		{"303", "/see", "", 303, "/other"},
		{"307", "/tmp", "", 307, "/temporary"},
		{"308", "/perm", "", 308, "/permanent"},
		{"query kept", "/old", "a=1&b=%20", 302, "/new?a=1&b=%20"},
		{"destination query wins", "/qs", "c=3", 302, "/page?a=1&b=2"},
		{"external with query", "/ext", "z=1", 301, "https://example.com/x?ref=pier"},
		{"query before fragment", "/frag", "q=1", 302, "/page?q=1#section"},
		{"placeholder", "/shop/42", "", 301, "/store/42"},
		{"placeholders", "/news/2024/05/01", "", 301, "/blog/2024-05-01.html"},
		{"placeholder within segment", "/post-7.html", "", 301, "/posts/7"},
		{"placeholder needs a value", "/post-.html", "", 0, ""},
		{"splat", "/blog/a/b/c", "", 301, "/news/a/b/c"},
		{"empty splat", "/blog/", "", 301, "/news/"},
		{"splat needs its slash", "/blog", "", 0, ""},
		{"splat with suffix", "/files/a/b.pdf", "", 302, "/docs/a/b.pdf"},
		{"splat suffix mismatch", "/files/a/b.txt", "", 0, ""},
		{"rewrite", "/app/settings", "tab=2", 200, "/app.html?tab=2"},
		{"placeholder in host", "/u/ann/pics/1", "", 302, "https://ann.example.com/pics/1"},
		{"port is not a placeholder", "/port", "", 302, "https://example.com:8443/x"},
		{"unknown placeholder kept", "/keep", "", 302, "/a/:unknown"},
		{"captured values escaped", "/blog/a b/100%/?#", "", 301, "/news/a%20b/100%25/%3F%23"},
		{"non-ASCII escaped", "/shop/é", "", 301, "/store/%C3%A9"},
		{"placeholder is one segment", "/shop/1/2", "", 0, ""},
		{"trailing slash is not ignored", "/old/", "", 0, ""},
		{"case-sensitive", "/OLD", "", 0, ""},
		{"no match", "/nothing", "x=1", 0, ""},
		{"encoded source matches decoded path", "/team/john smith", "", 301, "/team/about-john%20smith"},
		{"captured values escaped in query", "/search/a&b=c d+?", "x=1", 302, "/find?q=a%26b%3Dc%20d%2B%3F#a&b=c%20d+%3F"},
		{"encoded source with splat", "/café/menu", "", 302, "/coffee/menu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := r.Match(tt.path, tt.query)
			if ok != (tt.status != 0) || got != (Redirect{Status: tt.status, To: tt.to}) {
				t.Errorf("Match(%q, %q) = %+v, %v; want {%d %s}", tt.path, tt.query, got, ok, tt.status, tt.to)
			}
		})
	}
}

func TestRedirectsOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules string
		path  string
		to    string
	}{
		{"static above pattern wins", "/a/b /static\n/a/* /pattern\n", "/a/b", "/static"},
		{"pattern above static wins", "/a/* /pattern\n/a/b /static\n", "/a/b", "/pattern"},
		{"static below pattern still matches", "/a/* /pattern\n/b /static\n", "/b", "/static"},
		{"static between patterns", "/x/* /x\n/a/b /static\n/a/* /pattern\n", "/a/b", "/static"},
		{"first pattern wins", "/a/:x /first\n/a/* /second\n", "/a/b", "/first"},
		{"later pattern when first fails", "/a/:x /first\n/a/* /second\n", "/a/b/c", "/second"},
		{"order across index lists, second segment first", "/:l/docs/* /by-second 200\n/blog/* /by-first 200\n/* /generic 200\n", "/blog/docs/x", "/by-second"},
		{"order across index lists, first segment first", "/blog/* /by-first 200\n/:l/docs/* /by-second 200\n/* /generic 200\n", "/blog/docs/x", "/by-first"},
		{"order across index lists, generic first", "/* /generic 200\n/blog/* /by-first 200\n/:l/docs/* /by-second 200\n", "/blog/docs/x", "/generic"},
		{"third segment key", "/:a/:b/c/* /third 200\n/* /generic 200\n", "/x/y/c/d", "/third"},
		{"third segment key mismatch", "/:a/:b/c/* /third 200\n/* /generic 200\n", "/x/y/z/d", "/generic"},
		{"splat before literal segment is not indexed", "/*/docs /splat-first 200\n/x/* /x 200\n", "/a/b/docs", "/splat-first"},
		{"static after patterns of other lists", "/:l/docs/* /by-second 200\n/blog/docs/x /static 200\n", "/blog/docs/x", "/by-second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRedirects(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := r.Match(tt.path, "")
			if !ok || got.To != tt.to {
				t.Errorf("Match(%q) = %+v, %v; want To %q", tt.path, got, ok, tt.to)
			}
		})
	}
}

// A rewrite's To is a URL whose decoded path is the asset to serve.
func TestRedirectsRewriteDecodes(t *testing.T) {
	t.Parallel()
	r, err := ParseRedirects("/files/* /store/:splat 200\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/files/a b/c.txt", "/files/100%/x", "/files/q?#", "/files/é/ü", "/files/a+b;c=d"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			m, ok := r.Match(path, "x=1")
			if !ok {
				t.Fatal("no match")
			}
			u, err := url.Parse(m.To)
			if err != nil {
				t.Fatalf("url.Parse(%q): %v", m.To, err)
			}
			if want := "/store/" + strings.TrimPrefix(path, "/files/"); u.Path != want || u.RawQuery != "x=1" {
				t.Errorf("To %q has path %q and query %q; want %q and x=1", m.To, u.Path, u.RawQuery, want)
			}
		})
	}
}

func TestRedirectsMatchMissDoesNotAllocate(t *testing.T) {
	r, err := ParseRedirects(staticRules(50) + dynamicRules(50) + "/:lang/docs/* /docs/:splat?lang=:lang\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/old/x", "/d7", "/en/doc/a", "/nothing/at/all"} {
		if _, ok := r.Match(path, "q=1"); ok {
			t.Fatalf("Match(%q) matched", path)
		}
		if n := testing.AllocsPerRun(100, func() { r.Match(path, "q=1") }); n != 0 {
			t.Errorf("Match(%q) allocates %v times", path, n)
		}
	}
}

func TestRedirectsNil(t *testing.T) {
	t.Parallel()
	var r *Redirects
	if got, ok := r.Match("/a", ""); ok {
		t.Errorf("nil Match = %+v, true", got)
	}
	if r.Len() != 0 {
		t.Errorf("nil Len = %d", r.Len())
	}
	var zero Redirects
	if got, ok := zero.Match("/a", ""); ok {
		t.Errorf("zero Match = %+v, true", got)
	}
}
