package siterules

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPatternMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		path    string
		want    map[string]string // nil = no match
	}{
		{"literal", "/a/b", "/a/b", map[string]string{}},
		{"literal mismatch", "/a/b", "/a/c", nil},
		{"literal prefix only", "/a/b", "/a/b/c", nil},
		{"literal colon", "/a:1/b", "/a:1/b", map[string]string{}},
		{"root splat", "/*", "/", map[string]string{"splat": ""}},
		{"root splat deep", "/*", "/a/b/c", map[string]string{"splat": "a/b/c"}},
		{"splat within segment", "/a*", "/abc/d", map[string]string{"splat": "bc/d"}},
		{"splat with suffix", "/*.js", "/a/b.min.js", map[string]string{"splat": "a/b.min"}},
		{"splat suffix needs room", "/a/*/b", "/a/b", nil},
		{"splat between", "/a/*/b", "/a/x/y/b", map[string]string{"splat": "x/y"}},
		{"empty splat between", "/a/*/b", "/a//b", map[string]string{"splat": ""}},
		{"placeholder", "/u/:id", "/u/42", map[string]string{"id": "42"}},
		{"placeholder empty", "/u/:id", "/u/", nil},
		{"placeholder no slash", "/u/:id", "/u/4/2", nil},
		{"placeholder then literal", "/u/:id/edit", "/u/4/edit", map[string]string{"id": "4"}},
		{"placeholder pre and post", "/p-:n.html", "/p-12.html", map[string]string{"n": "12"}},
		{"placeholder post greedy", "/:n.html", "/a.html.html", map[string]string{"n": "a.html"}},
		{"placeholder before splat", "/:lang/*", "/en/a/b", map[string]string{"lang": "en", "splat": "a/b"}},
		{"placeholder after splat", "/*/:file", "/a/b/c.txt", map[string]string{"splat": "a/b", "file": "c.txt"}},
		{"placeholder after splat pre", "/*/v-:n", "/a/v-1", map[string]string{"splat": "a", "n": "1"}},
		{"placeholder after splat mismatch", "/*/v-:n", "/a/w-1", nil},
		{"placeholder after splat trailing slash", "/*/:file", "/a/b/", nil},
		{"tail does not overlap head", "/a/*/:x", "/a/", nil},
		{"tail placeholder needs slash", "/a*/:x", "/ab", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := compilePattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var caps captures
			ok := p.match(tt.path, &caps)
			if ok != (tt.want != nil) {
				t.Fatalf("match(%q) = %v; want %v", tt.path, ok, tt.want != nil)
			}
			if !ok {
				return
			}
			got := map[string]string{}
			for i, n := range p.names {
				got[n] = caps[i]
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("captures = %v; want %v", got, tt.want)
			}
			if s := p.sample(); !p.match(s, &caps) {
				t.Errorf("pattern does not match its own sample %q", s)
			}
		})
	}
}

// reference compiles a pattern the way Cloudflare's engine does, into an
// anchored regular expression: * is (.*), :name is ([^/]+).
func reference(p *pattern) *regexp.Regexp {
	var b strings.Builder
	write := func(tokens []token) {
		for _, t := range tokens {
			if t.capture < 0 {
				b.WriteString(regexp.QuoteMeta(t.lit))
			} else {
				b.WriteString(regexp.QuoteMeta(t.pre) + "(?P<" + p.names[t.capture] + ">[^/]+)" + regexp.QuoteMeta(t.post))
			}
		}
	}
	b.WriteString("^")
	write(p.head)
	if p.splat >= 0 {
		b.WriteString("(?P<splat>.*)")
		write(p.tail)
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// FuzzPatternMatch checks the linear matcher against the regular
// expression Cloudflare would build from the same pattern.
func FuzzPatternMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"/a/*/:b", "/a/x/y/z"},
		{"/*/:file", "/a/b/"},
		{"/:a/x-:b.html/*", "/q/x-1.html.html/r"},
		{"/p-:n.html", "/p-.html"},
		{"/a*b", "/ab"},
		{"/*a/:x", "/aa/b"},
		{"/:x/:y", "/a//b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, src, path string) {
		if !strings.HasPrefix(src, "/") || strings.IndexByte(src, '%') >= 0 || !utf8.ValidString(path) || !utf8.ValidString(src) {
			return
		}
		p, err := compilePattern(src)
		if err != nil {
			return
		}
		re := reference(p)
		var caps captures
		got := p.match(path, &caps)
		m := re.FindStringSubmatch(path)
		if got != (m != nil) {
			t.Fatalf("pattern %q (re %s), path %q: match = %v, regexp = %v", src, re, path, got, m != nil)
		}
		if !got {
			return
		}
		for i, name := range re.SubexpNames()[1:] {
			if c := p.index(name); caps[c] != m[i+1] {
				t.Fatalf("pattern %q, path %q: %s = %q, regexp %q", src, path, name, caps[c], m[i+1])
			}
		}
	})
}
