package hosting

import (
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "site.localhost", "site.localhost", true},
		{"port", "site.localhost:8080", "site.localhost", true},
		{"empty port", "site.localhost:", "site.localhost", true},
		{"trailing dot", "site.localhost.", "site.localhost", true},
		{"trailing dot and port", "site.localhost.:443", "site.localhost", true},
		{"uppercase", "SiTe.LocalHost", "site.localhost", true},
		{"idn", "bücher.example", "xn--bcher-kva.example", true},
		{"idn uppercase", "BÜCHER.example:80", "xn--bcher-kva.example", true},
		{"punycode kept", "xn--bcher-kva.example", "xn--bcher-kva.example", true},
		{"ipv4", "127.0.0.1:8080", "127.0.0.1", true},
		{"ipv6", "[::1]:8080", "[::1]", true},
		{"empty", "", "", false},
		{"only port", ":8080", "", false},
		{"only dot", ".", "", false},
		{"two trailing dots", "site.localhost..", "", false},
		{"empty label", "a..b", "", false},
		{"bad port", "site.localhost:http", "", false},
		{"long port", "site.localhost:1234567", "", false},
		{"underscore", "my_site.localhost", "", false},
		{"space", "my site.localhost", "", false},
		{"slash", "a/b.localhost", "", false},
		{"leading hyphen", "-a.localhost", "", false},
		{"trailing hyphen", "a-.localhost", "", false},
		{"label too long", strings.Repeat("a", 64) + ".localhost", "", false},
		{"name too long", strings.Repeat("abcdefghi.", 26) + "localhost", "", false},
		{"nul", "a\x00.localhost", "", false},
		{"unclosed ipv6", "[::1", "", false},
		{"invalid utf8", "a\xff.localhost", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := normalizeHost(tc.in)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("normalizeHost(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, host string
		want       hostRoute
		ok         bool
	}{
		{"site", "blog.pier.test", hostRoute{site: "blog"}, true},
		{"preview", "abc123--blog.pier.test", hostRoute{site: "blog", deployment: "abc123"}, true},
		{"hyphenated site", "my-blog.pier.test", hostRoute{site: "my-blog"}, true},
		{"preview of hyphenated site", "d1--my-blog.pier.test", hostRoute{site: "my-blog"}, true},
		{"branch alias", "feature-x--blog.pier.test", hostRoute{site: "blog", deployment: "feature-x"}, true},
		{"bare domain", "pier.test", hostRoute{}, false},
		{"other domain", "blog.example.com", hostRoute{}, false},
		{"suffix without dot", "blogpier.test", hostRoute{}, false},
		{"deeper subdomain", "a.blog.pier.test", hostRoute{}, false},
		{"empty deployment", "--blog.pier.test", hostRoute{}, false},
		{"triple hyphen", "d1---blog.pier.test", hostRoute{}, false},
		{"two previews", "a--b--blog.pier.test", hostRoute{}, false},
	}
	tests[3].want.deployment = "d1"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseHost(tc.host, ".pier.test")
			if ok != tc.ok || got != tc.want {
				t.Fatalf("parseHost(%q) = %+v, %v; want %+v, %v", tc.host, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestNormalizeHostFastPathDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := normalizeHost("site.localhost:8080"); !ok {
			t.Fatal("rejected")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations, want 0", allocs)
	}
}
